/** Reads a PostgreSQL Synapse database in one REPEATABLE READ, READ ONLY snapshot, streaming with cursors. */
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { copyTextBatches, type FieldReader } from "./field-reader.ts";
import { BatchedSynapseSource, READ_COLUMNS, type ReadKind } from "./read-rows.ts";
import type { CountedTable, SynapseSource } from "./source.ts";

const OWNER_COLUMNS = `u.name AS o_name, u.creation_ts AS o_creation_ts, u.admin AS o_admin,
  u.is_guest AS o_is_guest, u.deactivated AS o_deactivated, u.appservice_id AS o_appservice_id`;

const TOKEN_COLUMNS = `a.id AS a_id, a.user_id AS a_user_id, a.device_id AS a_device_id, a.token AS a_token,
  a.valid_until_ms AS a_valid_until_ms, a.puppets_user_id AS a_puppets_user_id,
  a.last_validated AS a_last_validated, r.id AS r_id, r.token AS r_token,
  (used_next.refresh_token_id IS NOT NULL) AS r_superseded_and_used,
  r.expiry_ts AS r_expiry_ts, r.ultimate_session_expiry_ts AS r_ultimate_session_expiry_ts`;

/**
 * Joins, for a token's refresh token `r`, whether the access token of its successor was used.
 * A hash join over the used tokens, not a subquery per row (which can turn into a scan per row).
 */
const USED_NEXT_JOIN = `LEFT JOIN (
    SELECT DISTINCT refresh_token_id FROM access_tokens WHERE used IS TRUE AND refresh_token_id IS NOT NULL
  ) used_next ON used_next.refresh_token_id = r.next_token_id`;

/** The reads, each selecting {@link READ_COLUMNS} of its kind in that order (checked before streaming). */
const SQL: Record<ReadKind, string> = {
  users: `SELECT name AS o_name, creation_ts AS o_creation_ts, admin AS o_admin, is_guest AS o_is_guest,
      deactivated AS o_deactivated, appservice_id AS o_appservice_id, password_hash, locked
    FROM users`,
  threepids: `SELECT t.user_id, t.medium, t.address, t.added_at, ${OWNER_COLUMNS}
    FROM user_threepids t LEFT JOIN users u ON u.name = t.user_id`,
  externalIds: `SELECT e.user_id, e.auth_provider, e.external_id, ${OWNER_COLUMNS}
    FROM user_external_ids e LEFT JOIN users u ON u.name = e.user_id`,
  // One row per (device, token); grouped back into devices while streaming.
  devices: `SELECT d.user_id, d.device_id, d.display_name, d.last_seen, d.ip, d.user_agent, d.hidden,
      ${OWNER_COLUMNS}, ${TOKEN_COLUMNS}
    FROM devices d
    LEFT JOIN users u ON u.name = d.user_id
    LEFT JOIN access_tokens a ON a.user_id = d.user_id AND a.device_id = d.device_id
    LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
    ${USED_NEXT_JOIN}
    ORDER BY d.user_id, d.device_id, a.id`,
  looseTokens: `SELECT ${OWNER_COLUMNS}, ${TOKEN_COLUMNS}
    FROM access_tokens a
    LEFT JOIN users u ON u.name = a.user_id
    LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
    ${USED_NEXT_JOIN}
    -- A NULL device_id matches no device, so this also keeps deviceless tokens; without an OR
    -- PostgreSQL can run it as one hash anti-join instead of an index probe per token.
    WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = a.user_id AND d.device_id = a.device_id)`,
  unpairedRefreshTokens: `SELECT r.id, r.user_id, ${OWNER_COLUMNS}
    FROM refresh_tokens r LEFT JOIN users u ON u.name = r.user_id
    WHERE NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.refresh_token_id = r.id)`,
};

/** A Synapse source over a connected client. Call {@link openPostgresSource} to make one. */
class PostgresSynapseSource extends BatchedSynapseSource {
  constructor(private readonly client: pg.Client) {
    super();
  }

  /**
   * Streams a read's rows with `COPY (query) TO STDOUT`: PostgreSQL sends continuously (no cursor
   * round trips) and back-pressure holds memory flat. A zero-row run first checks that the columns
   * come in the order the decoders read them.
   */
  protected async *batches(kind: ReadKind): AsyncGenerator<FieldReader> {
    const sql = SQL[kind];
    const shape = await this.client.query(`SELECT * FROM (${sql}) AS q LIMIT 0`);
    const columns = shape.fields.map((f) => f.name).join(", ");
    if (columns !== READ_COLUMNS[kind].join(", ")) {
      throw new Error(`internal error: the ${kind} read selects (${columns}), not (${READ_COLUMNS[kind].join(", ")})`);
    }
    yield* copyTextBatches(this.client.query(copyTo(`COPY (${sql}) TO STDOUT`)));
  }

  async countRows(table: CountedTable): Promise<number> {
    const result = await this.client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(result.rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    await this.client.query("ROLLBACK").catch(() => undefined);
  }
}

/**
 * Starts the read-only snapshot on `client` (which the caller connected and will end) and returns
 * a source reading from it. Nothing this source runs can write: the transaction is READ ONLY.
 */
export async function openPostgresSource(client: pg.Client): Promise<SynapseSource> {
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  // JIT compilation costs more than it saves on these one-pass scans (over a second measured at 100k users).
  await client.query("SET LOCAL jit = off");
  return new PostgresSynapseSource(client);
}

