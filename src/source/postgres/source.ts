/** Reads a PostgreSQL Synapse database in one REPEATABLE READ, READ ONLY snapshot, streaming with cursors. */
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { copyTextBatches, type FieldReader } from "../field-reader.ts";
import { selectList, type ReadKind } from "../read-columns.ts";
import { BatchedSynapseSource } from "../read-rows.ts";
import type { CountedTable, SynapseSource, UserChanges, UserSubset } from "../source.ts";
import { postgresUserChanges } from "./changes.ts";
import { textArrayLiteral } from "./text-array.ts";

/**
 * Joins, for a token's refresh token `r`, whether the access token of its successor was used.
 * A hash join over the used tokens, not a subquery per row (which can turn into a scan per row).
 */
const USED_NEXT_JOIN = `LEFT JOIN (
    SELECT DISTINCT refresh_token_id FROM access_tokens WHERE used IS TRUE AND refresh_token_id IS NOT NULL
  ) used_next ON used_next.refresh_token_id = r.next_token_id`;

/**
 * Each read's FROM (its tables under the aliases of read-columns.ts READS), its conditions, its
 * order, and the column naming the Synapse user a row belongs to (a staged run reads only the
 * users that changed): the SELECT is `SELECT <columns> FROM ... WHERE ... ORDER BY ...`.
 */
interface ReadShape {
  from: string;
  userColumn: string;
  where?: string;
  orderBy?: string;
}

const SHAPES: Record<ReadKind, ReadShape> = {
  users: { from: "users u", userColumn: "u.name" },
  threepids: { from: "user_threepids t LEFT JOIN users u ON u.name = t.user_id", userColumn: "t.user_id" },
  externalIds: { from: "user_external_ids e LEFT JOIN users u ON u.name = e.user_id", userColumn: "e.user_id" },
  // One row per (device, token); grouped back into devices while streaming.
  devices: {
    from: `devices d
    LEFT JOIN users u ON u.name = d.user_id
    LEFT JOIN access_tokens a ON a.user_id = d.user_id AND a.device_id = d.device_id
    LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
    ${USED_NEXT_JOIN}`,
    userColumn: "d.user_id",
    orderBy: "d.user_id, d.device_id, a.id",
  },
  looseTokens: {
    from: `access_tokens a
    LEFT JOIN users u ON u.name = a.user_id
    LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
    ${USED_NEXT_JOIN}`,
    userColumn: "a.user_id",
    // A NULL device_id matches no device, so this also keeps deviceless tokens; without an OR
    // PostgreSQL can run it as one hash anti-join instead of an index probe per token.
    where: "NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = a.user_id AND d.device_id = a.device_id)",
  },
  unpairedRefreshTokens: {
    from: "refresh_tokens r LEFT JOIN users u ON u.name = r.user_id",
    userColumn: "r.user_id",
    where: "NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.refresh_token_id = r.id)",
  },
};

/**
 * The SQL of a read on PostgreSQL; with `only`, of the rows of those Synapse users alone (inlined:
 * `COPY (query)` takes no parameters, and a read-only snapshot cannot fill a temporary table).
 */
export function postgresReadSql(kind: ReadKind, only?: UserSubset): string {
  const shape = SHAPES[kind];
  const conditions = [shape.where, only && `${shape.userColumn} IN (SELECT unnest(${textArrayLiteral(only)}::text[]))`].filter(
    Boolean,
  );
  return [
    `SELECT ${selectList(kind, "postgres")}`,
    `FROM ${shape.from}`,
    ...(conditions.length > 0 ? [`WHERE ${conditions.join(" AND ")}`] : []),
    ...(shape.orderBy ? [`ORDER BY ${shape.orderBy}`] : []),
  ].join("\n");
}

/** A Synapse source over a connected client. Call {@link openPostgresSource} to make one. */
class PostgresSynapseSource extends BatchedSynapseSource {
  /** A read stopped before its end (the run failed elsewhere): its COPY still holds the connection. */
  private abandonedCopy = false;

  readonly changes: UserChanges;

  constructor(private readonly client: pg.Client) {
    super();
    this.changes = postgresUserChanges(client);
  }

  /**
   * Streams a read's rows with `COPY (query) TO STDOUT`: PostgreSQL sends continuously (no cursor
   * round trips) and back-pressure holds memory flat. The columns come in the order the decoders
   * read them: both follow read-columns.ts.
   */
  protected async *batches(kind: ReadKind, only?: UserSubset): AsyncGenerator<FieldReader> {
    let finished = false;
    try {
      yield* copyTextBatches(this.client.query(copyTo(`COPY (${postgresReadSql(kind, only)}) TO STDOUT`)));
      finished = true;
    } finally {
      if (!finished) this.abandonedCopy = true;
    }
  }

  async countRows(table: CountedTable): Promise<number> {
    const result = await this.client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(result.rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    // Behind an unfinished COPY a ROLLBACK would wait forever: ending the connection (its owner's
    // job, always done) ends the read-only transaction as well.
    if (this.abandonedCopy) return;
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
