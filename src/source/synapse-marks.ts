/**
 * Synapse's high-water marks (model/synapse-marks.ts), and what Synapse gained or served after
 * them: the evidence that a Synapse kept running on its own after the migration. Written once for
 * both engines over the snapshot's queries; examples are user ids and device ids only.
 */
import type { SynapseMarks } from "../model/synapse-marks.ts";
import type { CountSample, SynapseQueries } from "./snapshot-readers.ts";

/** A number from a driver (PostgreSQL's bigint comes as a string), null kept. */
function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** Synapse's marks now, in the snapshot. */
export async function readSynapseMarks(q: SynapseQueries): Promise<SynapseMarks> {
  const [users, devices, access, refresh] = await Promise.all([
    q.rows<{ n: unknown; ts: unknown }>("SELECT count(*) AS n, max(creation_ts) AS ts FROM users"),
    q.rows<{ n: unknown }>("SELECT count(*) AS n FROM devices"),
    q.rows<{ id: unknown }>("SELECT max(id) AS id FROM access_tokens"),
    q.rows<{ id: unknown }>("SELECT max(id) AS id FROM refresh_tokens"),
  ]);
  return {
    users: Number(users[0]?.n ?? 0),
    maxUserCreationTs: numberOrNull(users[0]?.ts),
    devices: Number(devices[0]?.n ?? 0),
    maxAccessTokenId: numberOrNull(access[0]?.id),
    maxRefreshTokenId: numberOrNull(refresh[0]?.id),
  };
}

/** What Synapse holds beyond the marks, and what it served after a moment. */
export interface SynapseChanges {
  /** The marks now. */
  now: SynapseMarks;
  /**
   * Users created after the migration: above the marked creation time (or, without marks, after
   * `since`), or more users than marked; examples are user ids.
   */
  newUsers: CountSample;
  /** Devices more than marked (Synapse's devices carry no creation time); null without marks. */
  newDevices: number | null;
  /** Access tokens above the marked id, with example owners; null without marks. */
  newAccessTokens: CountSample | null;
  /** Refresh tokens above the marked id; null without marks. */
  newRefreshTokens: number | null;
  /** Devices Synapse saw in use after `since` (`last_seen`), examples `@user:server DEVICE`. */
  devicesSeen: CountSample;
  /** Access tokens Synapse validated after `since` (`last_validated`). */
  tokensValidated: number;
}

async function countSample(q: SynapseQueries, from: string, where: string, example: string, params: unknown[], limit: number) {
  const counted = await q.rows<{ n: unknown }>(`SELECT count(*) AS n FROM ${from} WHERE ${where}`, params);
  const count = Number(counted[0]?.n ?? 0);
  if (count === 0) return { count, examples: [] };
  const rows = await q.rows<{ e: string }>(
    `SELECT DISTINCT ${example} AS e FROM ${from} WHERE ${where} ORDER BY 1 LIMIT ${Math.max(0, Math.floor(limit))}`,
    params,
  );
  return { count, examples: rows.map((r) => r.e) };
}

/**
 * What Synapse gained beyond `marks` (the migration's, null for a record of an older version:
 * then only users created after `since` are known), and what it served after `since`.
 */
export async function readSynapseChanges(
  q: SynapseQueries,
  marks: SynapseMarks | null,
  since: Date,
  limit: number,
): Promise<SynapseChanges> {
  const p = q.dialect.param(1);
  const now = await readSynapseMarks(q);
  const sinceMs = since.getTime();
  // Synapse's creation_ts is in whole seconds: a user of the migration's own second is not "after" it.
  const createdAfter = marks === null ? Math.floor(sinceMs / 1000) : marks.maxUserCreationTs;
  // With marks but no creation time among them: every user (none were marked), or every one with a time.
  const above =
    createdAfter !== null
      ? await countSample(q, "users", `creation_ts > ${p}`, "name", [createdAfter], limit)
      : await countSample(q, "users", marks?.users === 0 ? "1 = 1" : "creation_ts IS NOT NULL", "name", [], limit);
  const newUsers = { count: Math.max(above.count, marks === null ? 0 : now.users - marks.users), examples: above.examples };
  const newAccessTokens =
    marks === null ? null : await countSample(q, "access_tokens", `id > ${p}`, "user_id", [marks.maxAccessTokenId ?? -1], limit);
  const newRefreshTokens =
    marks === null
      ? null
      : Number(
          (
            await q.rows<{ n: unknown }>(`SELECT count(*) AS n FROM refresh_tokens WHERE id > ${p}`, [
              marks.maxRefreshTokenId ?? -1,
            ])
          )[0]?.n ?? 0,
        );
  const devicesSeen = await countSample(q, "devices", `last_seen > ${p}`, "user_id || ' ' || device_id", [sinceMs], limit);
  const validated = await q.rows<{ n: unknown }>(`SELECT count(*) AS n FROM access_tokens WHERE last_validated > ${p}`, [
    sinceMs,
  ]);
  return {
    now,
    newUsers,
    newDevices: marks === null ? null : Math.max(0, now.devices - marks.devices),
    newAccessTokens,
    newRefreshTokens,
    devicesSeen,
    tokensValidated: Number(validated[0]?.n ?? 0),
  };
}
