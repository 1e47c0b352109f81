/**
 * A text that describes a database's schema and content, taken over SQL only (no pg_dump), so that
 * "unchanged" can be asserted by comparing two fingerprints. One line per object, sorted; each table's
 * rows are summarised by their count and the md5 of all rows (as text) in a stable order.
 */

import pg from "pg";

/** Schemas that belong to PostgreSQL itself. */
const SYSTEM_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'";

/**
 * Catalog queries, each returning one column `line`. They use only functions and columns present in
 * PostgreSQL 12 through 17. The session's search_path is empty, so every name in a definition is qualified.
 */
const CATALOG_QUERIES: readonly string[] = [
  `SELECT 'schema ' || n.nspname AS line FROM pg_namespace n WHERE ${SYSTEM_SCHEMAS}`,
  `SELECT 'extension ' || e.extname || ' ' || e.extversion AS line FROM pg_extension e`,
  // Tables, views, sequences, ...: kind, persistence and privileges.
  `SELECT 'relation ' || n.nspname || '.' || c.relname || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
          || ' acl=' || coalesce(c.relacl::text, '-') || ' options=' || coalesce(c.reloptions::text, '-')
          || ' row_security=' || c.relrowsecurity || ' replica_identity=' || c.relreplident::text AS line
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${SYSTEM_SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`,
  // Columns in their order (attnum), with type, nullability, default, identity and generation.
  `SELECT 'column ' || n.nspname || '.' || c.relname || ' #' || lpad(a.attnum::text, 4, '0') || ' ' || a.attname
          || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
          || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
          || CASE WHEN a.attidentity <> '' THEN ' identity=' || a.attidentity::text ELSE '' END
          || CASE WHEN a.attgenerated <> '' THEN ' generated=' || a.attgenerated::text ELSE '' END
          || CASE WHEN a.attcollation <> 0 THEN ' collate=' || a.attcollation::regcollation::text ELSE '' END AS line
     FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE ${SYSTEM_SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped`,
  `SELECT 'constraint ' || n.nspname || '.' || coalesce(c.relname, t.typname) || ' ' || k.conname || ' '
          || pg_get_constraintdef(k.oid) || CASE WHEN k.convalidated THEN '' ELSE ' not validated' END AS line
     FROM pg_constraint k
     JOIN pg_namespace n ON n.oid = k.connamespace
     LEFT JOIN pg_class c ON c.oid = k.conrelid
     LEFT JOIN pg_type t ON t.oid = k.contypid
    WHERE ${SYSTEM_SCHEMAS}`,
  `SELECT 'index ' || n.nspname || '.' || c.relname || ' ' || pg_get_indexdef(c.oid)
          || CASE WHEN i.indisvalid THEN '' ELSE ' invalid' END
          || CASE WHEN i.indisclustered THEN ' clustered' ELSE '' END AS line
     FROM pg_index i
     JOIN pg_class c ON c.oid = i.indexrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${SYSTEM_SCHEMAS}`,
  `SELECT 'sequence ' || s.schemaname || '.' || s.sequencename || ' ' || format_type(s.data_type, NULL)
          || ' start=' || s.start_value || ' min=' || s.min_value || ' max=' || s.max_value
          || ' increment=' || s.increment_by || ' cycle=' || s.cycle || ' cache=' || s.cache_size AS line
     FROM pg_sequences s
    WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')`,
  `SELECT 'trigger ' || n.nspname || '.' || c.relname || ' ' || pg_get_triggerdef(g.oid)
          || ' enabled=' || g.tgenabled::text AS line
     FROM pg_trigger g
     JOIN pg_class c ON c.oid = g.tgrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${SYSTEM_SCHEMAS} AND NOT g.tgisinternal`,
  `SELECT 'policy ' || p.schemaname || '.' || p.tablename || ' ' || p.policyname || ' ' || p.permissive || ' ' || p.cmd
          || ' roles=' || p.roles::text || ' using=' || coalesce(p.qual, '-') || ' check=' || coalesce(p.with_check, '-') AS line
     FROM pg_policies p
    WHERE p.schemaname NOT IN ('pg_catalog', 'information_schema')`,
  `SELECT 'function ' || pg_get_functiondef(p.oid) AS line
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE ${SYSTEM_SCHEMAS} AND p.prokind <> 'a'`,
  `SELECT 'view ' || n.nspname || '.' || c.relname || ' ' || pg_get_viewdef(c.oid) AS line
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${SYSTEM_SCHEMAS} AND c.relkind IN ('v', 'm')`,
  `SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text
          || coalesce(' labels=' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                       FROM pg_enum e WHERE e.enumtypid = t.oid), '')
          || CASE WHEN t.typtype = 'd' THEN ' base=' || format_type(t.typbasetype, t.typtypmod)
                  || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
                  || coalesce(' default ' || t.typdefault, '') ELSE '' END AS line
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE ${SYSTEM_SCHEMAS} AND t.typtype IN ('e', 'd', 'r', 'm')`,
];

/**
 * The fingerprint of the database at `connectionString`: the catalog lines above, one line per table with
 * its row count and the md5 of its rows, and one per sequence with `last_value` and `is_called`.
 * Two fingerprints are equal strings exactly when none of these changed.
 */
export async function fingerprint(connectionString: string): Promise<string> {
  const client = new pg.Client({ connectionString, ssl: false });
  client.on("error", () => {
    // The server ended the session; the pending query rejects with the cause.
  });
  await client.connect();
  try {
    // A snapshot, so that all lines describe one moment; an empty search_path qualifies every name.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query("SET LOCAL search_path = ''");
    const lines: string[] = [];
    for (const query of CATALOG_QUERIES) {
      const result = await client.query<{ line: string }>(query);
      for (const row of result.rows) lines.push(row.line);
    }
    lines.push(...(await contentLines(client)));
    await client.query("COMMIT");
    return lines.sort(compareCodeUnits).join("\n");
  } finally {
    await client.end();
  }
}

/** Row summaries of every table and the state of every sequence, in one round trip. */
async function contentLines(client: pg.Client): Promise<string[]> {
  const relations = await client.query<{ schema: string; name: string; kind: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${SYSTEM_SCHEMAS} AND c.relkind IN ('r', 'm', 'S')`,
  );
  const parts = relations.rows.map(({ schema, name, kind }) => {
    const qualified = `${quoteIdent(schema)}.${quoteIdent(name)}`;
    const label = quoteLiteral(`${schema}.${name}`);
    if (kind === "S") {
      return `SELECT 'sequence-state ' || ${label} || ' last_value=' || last_value || ' is_called=' || is_called FROM ${qualified}`;
    }
    // Rows sorted by their text form (the harness's databases use the C collation: a byte order).
    return `SELECT 'rows ' || ${label} || ' count=' || count(*) || ' md5='
              || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C"), '')) FROM ${qualified} t`;
  });
  if (parts.length === 0) return [];
  const union = parts.map((part) => `(${part})`).join("\nUNION ALL\n");
  const result = await client.query<{ line: string }>(`SELECT line FROM (${union}) AS content(line)`);
  return result.rows.map((row) => row.line);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
