/**
 * ONLINE_MIGRATION (`check`): whether this Synapse allows an online migration (`prepare`, then a
 * short cut-over), how it finds changes, and why not the other way. STAGE_PRESENT: a stage is
 * waiting in MAS's database, and what `migrate` will do with it.
 */
import { readStage } from "../target/stage.ts";
import type { CheckContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/** What Synapse's PostgreSQL allows besides reading: logical decoding needs both. */
interface ReplicationSettings {
  wal_level: string;
  replication: boolean;
}

/** ONLINE_MIGRATION, for `check` only (the runs that write know what they are). */
export async function onlineMigrationRule(input: CheckContext): Promise<Finding[]> {
  if (input.writesMas) return [];
  if (input.synapseDb.dialect.engine !== "postgres") {
    return [
      finding(
        "ONLINE_MIGRATION",
        "An online migration (`syn2mas prepare` while Synapse runs, then a short `migrate`) needs Synapse's database on " +
          "PostgreSQL; this one is SQLite: migrate with Synapse stopped.",
      ),
    ];
  }
  const [settings] = await input.synapseDb.rows<ReplicationSettings>(
    `SELECT current_setting('wal_level') AS wal_level,
            coalesce((SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user), false) AS replication`,
  );
  const logical =
    settings?.wal_level === "logical" && settings.replication
      ? "would be allowed here (wal_level = logical, a role with REPLICATION)"
      : `is not allowed here (wal_level = ${settings?.wal_level ?? "unknown"}` +
        `${settings?.replication ? "" : ", a role without REPLICATION"}; it needs wal_level = logical and REPLICATION)`;
  return [
    finding(
      "ONLINE_MIGRATION",
      "An online migration is possible: `syn2mas prepare` copies Synapse into a stage while it runs (repeat it as often as " +
        "wanted), then `syn2mas migrate` with Synapse stopped reads again only the users whose rows changed and moves the " +
        "stage into MAS's tables in one short transaction. Changes are found from PostgreSQL's row versions: the rows " +
        "written since the last run carry a newer transaction id, and deleted rows show in counts per user, which needs " +
        `nothing but read access. Logical decoding, which would read only the changes, ${logical}; it is not used: its ` +
        "replication slot holds WAL on Synapse's server for as long as it exists, and deletes in Synapse's tables without " +
        "a primary key (devices, user_threepids) do not say whose row they removed.",
    ),
  ];
}

/** STAGE_PRESENT, for every run. */
export async function stagePresentRule(input: CheckContext): Promise<Finding[]> {
  const stage = await readStage(input.masDb);
  if (stage === null) return [];
  return [
    finding(
      "STAGE_PRESENT",
      `A stage prepared at ${new Date(stage.createdAt).toISOString()} (brought up to date at ` +
        `${new Date(stage.updatedAt).toISOString()}, ${stage.counts.users ?? 0} users) waits in MAS's database: ` +
        "`syn2mas migrate` brings it up to date and moves it into MAS's tables (a stage made under other settings, " +
        "another MAS schema or another syn2mas version is made again). `syn2mas rollback` removes it.",
      { count: stage.counts.users ?? 0 },
    ),
  ];
}
