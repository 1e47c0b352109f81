/** What decideStatus's table-driven tests (src/pipeline/*status.test.ts) start from: an empty MAS, an unchanged Synapse. */
import type { SynapseMarks } from "../../src/model/synapse-marks.ts";
import type { SynapseChanges } from "../../src/source/synapse-marks.ts";
import type { StatusEvidence } from "../../src/pipeline/status.ts";

export const MARKS: SynapseMarks = {
  users: 3,
  maxUserCreationTs: 1_700_000_000,
  devices: 4,
  maxAccessTokenId: 10,
  maxRefreshTokenId: 5,
};

export const UNCHANGED: SynapseChanges = {
  now: MARKS,
  newUsers: { count: 0, examples: [] },
  newDevices: 0,
  newAccessTokens: { count: 0, examples: [] },
  newRefreshTokens: 0,
  devicesSeen: { count: 0, examples: [] },
  tokensValidated: 0,
};

export const EMPTY: StatusEvidence = {
  serverName: "example.com",
  delegation: undefined,
  masSchema: true,
  record: null,
  masRows: {},
  masUsernames: [],
  usersBeforeCommit: null,
  activity: null,
  synapse: null,
  migrationRunning: false,
};
