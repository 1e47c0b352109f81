/** A synthetic Synapse database of N users with realistic proportions, generated inside PostgreSQL. */

/**
 * SQL that fills an empty Synapse 1.160 schema with `users` users on `example.com`. Per 100 users:
 * 70 emails, 3 phone numbers, 20 external ids over 2 providers, 200 devices, 250 access tokens
 * of which 50 with refresh tokens (1 of them expired, 1 with a session hard limit ahead, the others
 * live for 30 days from now), 2 guests, 1 application-service user, 1 deactivated, 2 admins.
 */
export function syntheticSynapseSql(users: number): string {
  const n = Math.max(1, Math.floor(users));
  return `
BEGIN;
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, appservice_id, deactivated, locked, shadow_banned, approved)
SELECT '@u' || i || ':example.com',
       CASE WHEN i % 100 IN (1, 2, 3, 4) THEN NULL ELSE '$2b$12$' || rpad(md5(i::text), 53, 'x') END,
       1600000000 + i,
       CASE WHEN i % 100 IN (5, 6) THEN 1 ELSE 0 END,
       CASE WHEN i % 100 IN (1, 2) THEN 1 ELSE 0 END,
       CASE WHEN i % 100 = 3 THEN 'bench-bridge' END,
       CASE WHEN i % 100 = 4 THEN 1 ELSE 0 END,
       false, false, true
FROM generate_series(1, ${n}) AS i;

INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at)
SELECT '@u' || i || ':example.com', 'email', 'u' || i || '@mail.example.org', 1600000000000 + i, 1600000000000 + i
FROM generate_series(1, ${n}) AS i WHERE i % 100 >= 10 AND i % 100 < 80
UNION ALL
SELECT '@u' || i || ':example.com', 'msisdn', (447000000000 + i)::text, 1600000000000 + i, 1600000000000 + i
FROM generate_series(1, ${n}) AS i WHERE i % 100 IN (80, 81, 82);

INSERT INTO user_external_ids (auth_provider, external_id, user_id)
SELECT CASE WHEN i % 2 = 0 THEN 'oidc-keycloak' ELSE 'oidc-github' END, 'ext-' || i, '@u' || i || ':example.com'
FROM generate_series(1, ${n}) AS i WHERE i % 100 >= 60 AND i % 100 < 80;

INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden)
SELECT '@u' || i || ':example.com', 'DEV' || i || d, 'Client ' || d, 1700000000000 + i * 10 + d,
       '10.' || (i % 250) || '.' || (d % 250) || '.' || (i % 199 + 1), 'Mozilla/5.0 bench ' || d, false
FROM generate_series(1, ${n}) AS i, generate_series(1, 2) AS d;

-- 2 tokens per user on its devices, plus a second token on the first device of every other user: 250 per 100.
-- Expiries relative to now, as Synapse sets them: the data stays live whenever the bench runs.
INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id, expiry_ts, ultimate_session_expiry_ts)
SELECT i, '@u' || i || ':example.com', 'DEV' || i || '1', 'syr_' || md5('r' || i), NULL,
       now_ms + CASE WHEN i % 100 = 50 THEN -86400000 ELSE 30 * 86400000::bigint END,
       CASE WHEN i % 100 = 52 THEN now_ms + 60 * 86400000::bigint END
FROM generate_series(1, ${n}) AS i, (SELECT (extract(epoch FROM now()) * 1000)::bigint AS now_ms) AS t WHERE i % 2 = 0;

INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used)
SELECT (i * 3 + d - 1), '@u' || i || ':example.com', 'DEV' || i || d, 'syt_' || md5('a' || i || '-' || d),
       CASE WHEN d = 1 AND i % 2 = 0 THEN 1800000000000 END, NULL, 1650000000000 + i * 10 + d,
       CASE WHEN d = 1 AND i % 2 = 0 THEN i END, false
FROM generate_series(1, ${n}) AS i, generate_series(1, 2) AS d
UNION ALL
SELECT (i * 3 + 2), '@u' || i || ':example.com', 'DEV' || i || '1', 'syt_' || md5('x' || i), NULL, NULL,
       1650000000000 + i * 10 + 3, NULL, false
FROM generate_series(1, ${n}) AS i WHERE i % 2 = 1;
COMMIT;
ANALYZE;
`;
}
