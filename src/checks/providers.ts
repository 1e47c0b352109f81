/** Which MAS provider each Synapse `auth_provider` maps to: MAS config `synapse_idp_id`, then command-line mappings. */
import type { MasConfig } from "../config/types.ts";
import { ulidTextToUuid, type MasId } from "../model/ids.ts";
import { UserError } from "../errors/user-error.ts";

/** A parsed `--upstream-provider-mapping SYNAPSE_IDP_ID:MAS_PROVIDER_ULID`. */
export interface ProviderMappingFlag {
  authProvider: string;
  providerId: MasId;
}

/** Parses one `SYNAPSE_IDP_ID:MAS_PROVIDER_ULID` flag value (the ULID may also be given as a UUID). */
export function parseProviderMappingFlag(value: string): ProviderMappingFlag {
  const colon = value.lastIndexOf(":");
  const authProvider = value.slice(0, colon);
  const idText = value.slice(colon + 1);
  const providerId =
    ulidTextToUuid(idText) ??
    (/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(idText) ? (idText.toLowerCase() as MasId) : undefined);
  if (colon <= 0 || providerId === undefined) {
    throw new UserError(
      `--upstream-provider-mapping "${value}" is not SYNAPSE_IDP_ID:MAS_PROVIDER_ULID`,
      "give the Synapse auth_provider (e.g. oidc-keycloak), a colon, and the provider's 26-character ULID from the MAS config",
    );
  }
  return { authProvider, providerId };
}

/** The auth_provider -> provider id map that the migration uses. Flags override the MAS config. */
export function providerMap(mas: MasConfig, flags: ProviderMappingFlag[]): Map<string, MasId> {
  const map = new Map<string, MasId>();
  for (const provider of mas.upstreamProviders) {
    const id = ulidTextToUuid(provider.id);
    if (provider.synapseIdpId !== undefined && id !== undefined) map.set(provider.synapseIdpId, id);
  }
  for (const flag of flags) map.set(flag.authProvider, flag.providerId);
  return map;
}
