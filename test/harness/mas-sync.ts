/** Writes a MAS configuration's upstream providers into its database, as `mas-cli config sync` would (the columns checks read). */
import { ulidTextToUuid } from "../../src/model/ids.ts";
import type { Cluster } from "./postgres.ts";

/** One provider of a MAS configuration file, as parsed YAML. */
export type ConfigProvider = Record<string, any>;

/** Inserts one `upstream_oauth_providers` row per provider of the configuration. */
export async function syncProviders(cluster: Cluster, db: string, providers: readonly ConfigProvider[]): Promise<void> {
  for (const p of providers) {
    await cluster.sql(
      db,
      `INSERT INTO upstream_oauth_providers
         (upstream_oauth_provider_id, issuer, human_name, scope, client_id, token_endpoint_auth_method, discovery_mode, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())`,
      [ulidTextToUuid(p.id), p.issuer, p.human_name, p.scope, p.client_id, p.token_endpoint_auth_method, p.discovery_mode],
    );
  }
}
