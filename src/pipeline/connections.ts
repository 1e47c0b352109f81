/** Both database connections of a run, opened and always closed together. */
import type pg from "pg";
import type { RunKind } from "../config/application-name.ts";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { Finding } from "../checks/finding.ts";
import { configRules } from "../checks/preconditions.ts";
import { applyPolicy, type FindingPolicy } from "../checks/policy.ts";
import type { MasId } from "../model/ids.ts";
import type { FileLinks, LinkRule } from "../model/link-rule.ts";
import { openPostgresSnapshot } from "../source/postgres/snapshot.ts";
import type { SnapshotReaders } from "../source/snapshot-readers.ts";
import { connect, type ConnectTarget } from "./connect.ts";
import { explainDatabaseFailure } from "./database-failure.ts";

/** What `check` and `migrate` both need. */
export interface RunSetup {
  synapse: SynapseConfig;
  mas: MasConfig;
  synapseTarget: ConnectTarget;
  masTarget: ConnectTarget;
  providers: ReadonlyMap<string, MasId>;
  /** `--link` rules by SOURCE (an auth_provider, or `localpart`). */
  links?: ReadonlyMap<string, LinkRule>;
  /** `--link-file`'s rows by user. */
  fileLinks?: FileLinks;
  allowRunningSynapse: boolean;
  skipInvalidRows: boolean;
  /** Accepted warnings and --strict. */
  policy: FindingPolicy;
  /** Extra read-only Synapse connections sharing the snapshot, for the checks' queries. */
  extraSynapseConnections: number;
}

/**
 * The configuration findings when Synapse's database is not one this tool can read: then there is
 * nothing to connect to, and connecting to libpq's defaults instead would reach some other database.
 */
export function unreadableSource(
  setup: Pick<RunSetup, "synapse" | "mas" | "policy"> & Partial<Pick<RunSetup, "providers" | "links">>,
): Finding[] | undefined {
  const findings = applyPolicy(configRules(setup.synapse, setup.mas, setup), setup.policy);
  return findings.some((f) => f.code === "UNSUPPORTED_DATABASE") ? findings : undefined;
}

/** The setup with both connections named for `run` (other runs recognise them by it). */
export function connectionsFor<T extends Pick<RunSetup, "synapseTarget" | "masTarget">>(setup: T, run: RunKind): T {
  return { ...setup, synapseTarget: { ...setup.synapseTarget, run }, masTarget: { ...setup.masTarget, run } };
}

/** Shares the snapshot of `synapseDb` with the extra connections the setup asks for; the caller closes them. */
export function openSnapshotReaders(
  setup: Pick<RunSetup, "synapseTarget" | "extraSynapseConnections">,
  synapseDb: pg.Client,
): Promise<SnapshotReaders> {
  return openPostgresSnapshot(synapseDb, () => connect(setup.synapseTarget), setup.extraSynapseConnections);
}

/**
 * Opens both connections, runs `work`, and always closes them. A lost connection or a MAS table
 * locked by another session comes out as one UserError saying which database and what to do.
 */
export async function withConnections<T>(
  setup: Pick<RunSetup, "synapseTarget" | "masTarget">,
  work: (synapseDb: pg.Client, masDb: pg.Client) => Promise<T>,
): Promise<T> {
  try {
    const synapseDb = await connect(setup.synapseTarget);
    try {
      const masDb = await connect(setup.masTarget);
      try {
        return await work(synapseDb, masDb);
      } finally {
        await masDb.end().catch(() => undefined);
      }
    } finally {
      await synapseDb.end().catch(() => undefined);
    }
  } catch (error) {
    throw await explainDatabaseFailure(error, setup);
  }
}
