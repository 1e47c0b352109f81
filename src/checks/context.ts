/** What the database rules read: both configurations, both connections, and the run's options. */
import type pg from "pg";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { MasId } from "../model/ids.ts";
import type { FileLinks, LinkRule } from "../model/link-rule.ts";
import type { SynapseQueries } from "../source/snapshot-readers.ts";

export interface CheckContext {
  synapse: SynapseConfig;
  mas: MasConfig;
  /** auth_provider -> MAS provider id, from the MAS config and the command line. */
  providers: ReadonlyMap<string, MasId>;
  /** `--link` rules by SOURCE: an auth_provider a rule names is known, and linked to the rule's provider. */
  links?: ReadonlyMap<string, LinkRule>;
  /** `--link-file`'s rows by user. */
  fileLinks?: FileLinks;
  /** Inside the Synapse snapshot (possibly several connections sharing it). */
  synapseDb: SynapseQueries;
  /** Backend pids of this run's own Synapse connections (not "other sessions"). */
  ownSynapsePids?: number[];
  /** Inside the MAS transaction (the lock taken by the rules lasts until it ends). */
  masDb: pg.ClientBase;
  /**
   * The run writes to MAS (`migrate`, even a dry run): it takes the migration lock for its
   * transaction. `check` only looks whether a migration holds it, and never turns one away.
   */
  writesMas: boolean;
  /** A real run (not a dry run, not `check`): Synapse must not be running. */
  realRun: boolean;
  allowRunningSynapse: boolean;
  /** Foreign user ids and orphan rows become counted skips instead of errors. */
  skipInvalidRows: boolean;
  /**
   * A staged delta's users (those read again): the checks of rows by user look at theirs alone.
   * The others' rows passed them when the stage was last brought up to date, under the same settings.
   */
  onlyUsers?: readonly string[];
  /** The run's time (ms), at which sessions are judged ended (migrate: the mappers' `startedAt`); default: when the rule runs. */
  now?: number;
}
