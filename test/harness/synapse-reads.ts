/**
 * What the source tests share: collecting a read's batches, and what the users and refresh tokens of
 * their small Synapse (engines.test.ts, sqlite/source.test.ts: the same rows, each in its engine's
 * spelling) must decode to.
 */
import type { SynapseUser } from "../../src/model/synapse.ts";

/** Every row of a read, in order. */
export async function all<T>(batches: AsyncIterable<readonly T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const batch of batches) out.push(...batch);
  return out;
}

/** alice (admin, locked, a hash), bob (a guest with no creation time) and an application service's user. */
export const DECODED_USERS: readonly SynapseUser[] = [
  {
    name: "@alice:example.com",
    creationTs: 1795406856,
    admin: true,
    isGuest: false,
    deactivated: false,
    appserviceId: null,
    passwordHash: "$2b$12$hash",
    locked: true,
    // Her kc-1 external id, in both tests' databases.
    hasExternalId: true,
  },
  {
    name: "@bob:example.com",
    creationTs: null,
    admin: false,
    isGuest: true,
    deactivated: false,
    appserviceId: null,
    passwordHash: null,
    locked: false,
    hasExternalId: false,
  },
  {
    name: "@bridge:example.com",
    creationTs: 1795406000,
    admin: false,
    isGuest: false,
    deactivated: false,
    appserviceId: "bridge",
    passwordHash: "",
    locked: false,
    hasExternalId: false,
  },
];

/** Device A1's two refresh tokens: the old one superseded by a used successor, the new one under a session limit. */
export const DECODED_A1_REFRESH = {
  old: { id: 1, token: "syr_old", supersededAndUsed: true, expiryTs: 1795406000100, ultimateSessionExpiryTs: null },
  fresh: { id: 2, token: "syr_new", supersededAndUsed: false, expiryTs: null, ultimateSessionExpiryTs: 1795406000200 },
};
