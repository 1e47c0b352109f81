/**
 * The record a migration leaves in MAS's database, in a schema of the tool's own (never MAS's
 * tables): when it committed, the tool's version, its counts, and the "now" its mappers judged
 * ended sessions by. Written in the migration's transaction, so a dry run rolls it back with the rest.
 */
import type pg from "pg";
import type { SynapseMarks } from "../model/synapse-marks.ts";
import type { TxClient } from "./transaction.ts";

export const RECORD_SCHEMA = "syn2mas";

export interface MigrationRecord {
  committedAt: Date;
  runStartedAt: Date | null;
  toolVersion: string;
  counts: Record<string, number>;
  /** Synapse's high-water marks in the migration's snapshot; null in a record of an older version. */
  synapseMarks: SynapseMarks | null;
}

/** Writes the record inside the migration's transaction (committed or rolled back with it). */
export async function writeMigrationRecord(
  tx: TxClient,
  record: { toolVersion: string; runStartedAt: number; counts: Record<string, number>; synapseMarks: SynapseMarks },
): Promise<void> {
  await tx.query(`CREATE SCHEMA IF NOT EXISTS ${RECORD_SCHEMA}`);
  await tx.query(
    `CREATE TABLE IF NOT EXISTS ${RECORD_SCHEMA}.migrations (
       committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       run_started_at timestamptz,
       tool_version text NOT NULL,
       counts jsonb NOT NULL)`,
  );
  // Added after the first version: a table an older version created gains it (its records stay null).
  await tx.query(`ALTER TABLE ${RECORD_SCHEMA}.migrations ADD COLUMN IF NOT EXISTS synapse_marks jsonb`);
  await tx.query(
    `INSERT INTO ${RECORD_SCHEMA}.migrations (run_started_at, tool_version, counts, synapse_marks)
     VALUES (to_timestamp($1::double precision / 1000), $2, $3, $4)`,
    [record.runStartedAt, record.toolVersion, JSON.stringify(record.counts), JSON.stringify(record.synapseMarks)],
  );
}

/** The latest migration's record, or null when MAS holds none (a MAS filled by an older version, or not by this tool). */
export async function readLatestRecord(client: pg.ClientBase): Promise<MigrationRecord | null> {
  const exists = await client.query<{ r: string | null }>(`SELECT to_regclass('${RECORD_SCHEMA}.migrations')::text AS r`);
  if (exists.rows[0]?.r == null) return null;
  const result = await client.query<{
    committed_at: Date;
    run_started_at: Date | null;
    tool_version: string;
    counts: Record<string, number>;
    synapse_marks: SynapseMarks | null;
  }>(
    // Through to_jsonb: a table written by an older version has no synapse_marks column.
    `SELECT committed_at, run_started_at, tool_version, counts, to_jsonb(m) -> 'synapse_marks' AS synapse_marks
       FROM ${RECORD_SCHEMA}.migrations m ORDER BY committed_at DESC LIMIT 1`,
  );
  const row = result.rows[0];
  if (row === undefined) return null;
  return {
    committedAt: row.committed_at,
    runStartedAt: row.run_started_at,
    toolVersion: row.tool_version,
    counts: row.counts,
    synapseMarks: row.synapse_marks,
  };
}
