/** What every mapping function reads besides its row: the server, the providers, time and ids. */
import type { MasId } from "../model/ids.ts";
import type { FileLinks, LinkRule } from "../model/link-rule.ts";

/** Read-only facts and deterministic services shared by the mappers of one run. */
export interface MappingContext {
  /** Synapse's `server_name`; user ids on other servers are skipped. */
  readonly serverName: string;
  /** The migration's start time (ms): the time given to rows that have none. */
  readonly startedAt: number;
  /**
   * When sessions are judged ended (ms); default: {@link startedAt}, which it always equals. Apart
   * so that a staged run can tell the rows given the run's time (re-mapped at every run) from those
   * judged by it (re-mapped when a session ends between two runs).
   */
  readonly now?: number;
  /** Synapse `auth_provider` -> MAS `upstream_oauth_provider_id`. */
  readonly providers: ReadonlyMap<string, MasId>;
  /**
   * `--link` rules by SOURCE (an `auth_provider`, or `localpart`): where one names an external id's
   * `auth_provider`, it gives the provider and the subject instead of {@link providers}.
   */
  readonly links?: ReadonlyMap<string, LinkRule>;
  /** `--link-file`'s rows by user: each becomes a link of its user. */
  readonly fileLinks?: FileLinks;
  /**
   * A ULID whose time part is `timeMs` and whose other 80 bits are a keyed hash of `naturalKey`,
   * so that the same Synapse row gets the same id in every phase of one run (and a different one
   * in another run) without keeping a map of every user in memory.
   */
  deriveId(timeMs: number, naturalKey: string): MasId;
}
