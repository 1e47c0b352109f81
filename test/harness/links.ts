/** What several `--link` tests share: the users `--link localpart` must link, and `config generate`'s stubs uncommented. */
import assert from "node:assert/strict";
import type { Cluster } from "./postgres.ts";

/**
 * The localparts `--link localpart` must link, in byte order, read from Synapse (PostgreSQL) independently
 * of the tool: users who are not guests, deactivated or an application service's, with no external id.
 */
export async function localpartLinkedUsernames(cluster: Cluster, synapseDb: string): Promise<string[]> {
  const rows = await cluster.sql<{ username: string }>(
    synapseDb,
    `SELECT substr(name, 2, strpos(name, ':') - 2) AS username FROM users u
      WHERE is_guest = 0 AND deactivated = 0 AND appservice_id IS NULL
        AND NOT EXISTS (SELECT 1 FROM user_external_ids e WHERE e.user_id = u.name)
      ORDER BY 1`,
  );
  return rows.map((r) => r.username);
}

/** Uncomments `config generate`'s stub block: from its ACTION line to the blank line after it, the first `#` and one space go. */
export function uncommentStubs(text: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith("## ACTION: upstream providers"));
  assert.ok(start >= 0, "no stub block");
  for (let i = start; i < lines.length && lines[i] !== ""; i++) lines[i] = (lines[i] as string).replace(/^# ?/, "");
  return lines.join("\n");
}

/** MAS's links on one provider (its UUID), as (username, subject), in username then subject order. */
export function masLinksOn(
  cluster: Cluster,
  masDb: string,
  providerId: string,
): Promise<{ username: string; subject: string }[]> {
  return cluster.sql<{ username: string; subject: string }>(
    masDb,
    `SELECT u.username, l.subject FROM upstream_oauth_links l JOIN users u USING (user_id)
      WHERE l.upstream_oauth_provider_id = $1 ORDER BY 1, 2`,
    [providerId],
  );
}
