/** The MAS sections that come from Synapse's server settings: matrix, http, database and email. */
import type { SynapseConfig } from "../types.ts";
import type { ConversionReport } from "./report.ts";
import { formatKey, withoutUndefined, type ConfigView, type KeyPath, type Mapping } from "../yaml-source.ts";

/** Where MAS listens by default; the public base is derived from it. */
const MAS_PORT = 8080;

/** Synapse's `public_baseurl`, or its default (`https://<server_name>/`, reported). */
export function homeserverUrl(synapse: SynapseConfig, view: ConfigView, report: ConversionReport): URL {
  const text = view.string(["public_baseurl"]);
  if (text === undefined) {
    report.mas(
      "changed",
      "public_baseurl",
      `is not set: matrix.endpoint is https://${synapse.serverName}/, Synapse's default; set it to the URL MAS can reach Synapse at.`,
    );
    return new URL(`https://${synapse.serverName}/`);
  }
  try {
    return new URL(text);
  } catch {
    return view.fail(
      ["public_baseurl"],
      "is not an absolute URL",
      "set public_baseurl to Synapse's public URL, e.g. https://matrix.example.com/",
    );
  }
}

/** MAS's own public URL: the homeserver's scheme and host, on MAS's default port. */
export function masPublicBase(homeserver: URL): string {
  return `${homeserver.protocol}//${homeserver.hostname}:${MAS_PORT}/`;
}

/** `matrix`: the homeserver MAS serves, where to reach it, and the shared secret. */
export function matrixSection(synapse: SynapseConfig, homeserver: URL, secret: string, report: ConversionReport): Mapping {
  report.mas("mapped", "server_name", `-> matrix.homeserver: ${synapse.serverName}.`);
  report.mas(
    "mapped",
    "public_baseurl",
    `-> matrix.endpoint: ${homeserver.href} (use an internal URL instead if MAS reaches Synapse another way).`,
  );
  return { kind: "synapse", homeserver: synapse.serverName, endpoint: homeserver.href, secret };
}

/** `http`: MAS's usual listeners (web on port 8080, health on 8081) and its public base. */
export function httpSection(publicBase: string, report: ConversionReport): Mapping {
  report.mas(
    "changed",
    "public_baseurl",
    `-> http.public_base: ${publicBase}: MAS's own public URL, a guess; set the URL users will reach MAS at.`,
  );
  const resources = ["discovery", "human", "oauth", "compat", "graphql", "assets"].map((name) => ({ name }));
  return {
    listeners: [
      { name: "web", resources, binds: [{ address: `[::]:${MAS_PORT}` }], proxy_protocol: false },
      {
        name: "internal",
        resources: [{ name: "health" }],
        binds: [{ host: "localhost", port: MAS_PORT + 1 }],
        proxy_protocol: false,
      },
    ],
    public_base: publicBase,
  };
}

/** `database`: the Synapse server's connection settings with a new database name, for the operator to create. */
export function databaseSection(synapse: SynapseConfig, report: ConversionReport): Mapping {
  if (synapse.databaseEngine !== "psycopg2") {
    report.mas(
      "changed",
      "database.name",
      `is ${synapse.databaseEngine}: MAS needs PostgreSQL, so database.uri is a placeholder; create a PostgreSQL database for MAS and set it.`,
    );
    return { uri: "postgresql://mas@localhost/mas" };
  }
  const db = synapse.database;
  const name = db.database === "mas" ? "mas_auth" : "mas";
  const socket = db.host?.startsWith("/") === true;
  if (db.options !== undefined) {
    report.mas(
      "not-carried-over",
      "database.args.options",
      "MAS has no libpq options setting: set what they do on the MAS database role instead (ALTER ROLE ... SET ...).",
    );
  }
  report.mas(
    "changed",
    "database",
    `-> database: the same server and credentials with database: ${name}, which must be a new, empty database (MAS cannot share Synapse's): create it before running MAS.`,
  );
  return withoutUndefined({
    host: socket ? undefined : db.host,
    socket: socket ? db.host : undefined,
    port: db.port,
    username: db.user,
    password: db.password,
    database: name,
    ssl_mode: db.sslmode,
    ssl_ca_file: db.sslrootcert,
    ssl_certificate_file: db.sslcert,
    ssl_key_file: db.sslkey,
  });
}

/** Synapse `email` keys that only concern Synapse's own notification emails: they stay in Synapse. */
const SYNAPSE_ONLY_EMAIL_KEYS = new Set([
  "enable_notifs",
  "notif_for_new_users",
  "client_base_url",
  "invite_client_location",
  "validation_token_lifetime",
  "notif_delay_before_mail",
  "subjects",
]);

const SMTP_KEYS = new Set([
  "smtp_host",
  "smtp_port",
  "smtp_user",
  "smtp_pass",
  "force_tls",
  "require_transport_security",
  "enable_tls",
  "notif_from",
  "app_name",
]);

function smtpMode(view: ConfigView, at: KeyPath, report: ConversionReport): "tls" | "starttls" | "plain" {
  if (view.boolean([...at, "force_tls"]) === true) return "tls";
  if (view.boolean([...at, "require_transport_security"]) === true) return "starttls";
  if (view.boolean([...at, "enable_tls"]) === false) return "plain";
  report.mas(
    "changed",
    formatKey([...at, "enable_tls"]),
    "Synapse used STARTTLS when the server offered it; MAS's mode: starttls requires it. Use mode: plain for a relay without TLS.",
  );
  return "starttls";
}

/** The sender: `notif_from` with Synapse's `%(app)s` placeholder filled in. */
function sender(view: ConfigView, at: KeyPath, report: ConversionReport): string {
  const from = view.string([...at, "notif_from"]);
  if (from === undefined) return view.fail([...at, "notif_from"], "is missing; Synapse requires it when email is configured");
  if (!from.includes("%(app)s")) return from;
  const app = view.string([...at, "app_name"]) ?? "Matrix";
  report.mas("changed", formatKey([...at, "notif_from"]), `-> email.from with %(app)s replaced by "${app}".`);
  return from.split("%(app)s").join(app);
}

/** `email`: Synapse's SMTP settings, or undefined when Synapse sends no email (MAS then sends none either). */
export function emailSection(view: ConfigView, report: ConversionReport): Mapping | undefined {
  const at: KeyPath = ["email"];
  const email = view.mapping(at);
  if (email === undefined || (view.value([...at, "smtp_host"]) == null && view.value([...at, "notif_from"]) == null)) {
    report.mas(
      "changed",
      "email",
      "is not configured: MAS sends no email (its transport defaults to blackhole), so email verification and password recovery are off.",
    );
    return undefined;
  }
  const mode = smtpMode(view, at, report);
  const from = sender(view, at, report);
  const section = withoutUndefined({
    from,
    reply_to: from,
    transport: "smtp",
    mode,
    hostname: view.string([...at, "smtp_host"]) ?? "localhost",
    port: view.integer([...at, "smtp_port"], 1, 65535, true) ?? (mode === "tls" ? 465 : 25),
    username: view.text([...at, "smtp_user"]),
    password: view.text([...at, "smtp_pass"]),
  });
  report.mas(
    "mapped",
    "email",
    `SMTP -> email: transport smtp, ${String(section["hostname"])}:${String(section["port"])}, mode ${mode}${section["username"] === undefined ? "" : ", with the SMTP credentials"}.`,
  );
  const rest = Object.keys(email).filter((k) => !SMTP_KEYS.has(k) && email[k] != null);
  const synapseOnly = rest.filter((k) => SYNAPSE_ONLY_EMAIL_KEYS.has(k));
  if (synapseOnly.length > 0)
    report.mas("mapped", "email", `${synapseOnly.join(", ")} stay in Synapse: they concern its notification emails, not MAS.`);
  for (const key of rest.filter((k) => !SYNAPSE_ONLY_EMAIL_KEYS.has(k))) {
    report.mas(
      "not-carried-over",
      formatKey([...at, key]),
      "has no MAS equivalent (MAS has its own email templates and settings): review MAS's email section.",
    );
  }
  return section;
}
