/** Rows added to the PostgreSQL Synapse sample by the suites that migrate or check it. */

/**
 * Edge rows the PostgreSQL sample (synapse-1.160-small) lacks, each exercising one rule of migration.md: hidden
 * devices, deviceless and missing-device tokens, rotations. SQLite's spelling is in migrate-sqlite.test.ts.
 */
export const EDGE_ROWS_SQL = `
INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden) VALUES
  ('@user0010:example.com', 'master signing key', NULL, NULL, NULL, NULL, true),
  ('@user0010:example.com', 'NULLHIDDEN', 'old client', 1795406000000, '-', 'old-ua', NULL),
  ('@user0015:example.com', 'BADIP', 'weird ip', 1795406000500, 'not-an-ip', 'ua2', false);
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (1001, '@user0010:example.com', 'master signing key', 'syt_edge_hidden', NULL, NULL, 1795406000001, NULL, false),
  (1002, '@user0017:example.com', NULL, 'syt_edge_deviceless', 1795500000000, NULL, 1795406000002, NULL, false),
  (1003, '@user0019:example.com', 'NOSUCHDEVICE', 'syt_edge_missing_device', NULL, NULL, 1795406000003, NULL, false);
-- user0019 rotated its refresh token and used the new access token: the old pair (41/20) is dead.
INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id) VALUES
  (1020, '@user0019:example.com', 'RYVECGYHPS', 'syr_edge_rotated_used', NULL),
  (1021, '@user0021:example.com', 'INCLLOINLV', 'syr_edge_rotated_unused', NULL),
  (1030, '@user0022:example.com', 'BSOTHJWMDL', 'syr_edge_unpaired', NULL);
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (1004, '@user0019:example.com', 'RYVECGYHPS', 'syt_edge_rotated_used', 1795500000000, NULL, 1795406999999, 1020, true),
  (1005, '@user0021:example.com', 'INCLLOINLV', 'syt_edge_rotated_unused', 1795500000001, NULL, 1795406999998, 1021, false);
UPDATE refresh_tokens SET next_token_id = 1020 WHERE id = 20;
UPDATE refresh_tokens SET next_token_id = 1021 WHERE id = 21;
`;

/**
 * The fixture's refresh tokens ended a day after it was made: all live again for a day from `now`,
 * but user0002's pair on ATZASRNOUY (refresh token 3), which expired an hour ago.
 */
export function expiriesSql(now: number): string {
  return `UPDATE refresh_tokens SET expiry_ts = ${now + 24 * 3_600_000};
UPDATE refresh_tokens SET expiry_ts = ${now - 3_600_000} WHERE id = 3;`;
}
