/** Tests for the conversion report: redaction of secrets, text rendering, and fresh ULIDs. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ulidTextToUuid, ulidTimeMs } from "../../model/ids.ts";
import { ConversionReport, renderConversionReport } from "./report.ts";
import { newUlid } from "./secrets.ts";

describe("ConversionReport", () => {
  it("redacts secret values that slipped into a message, and ignores short or missing ones", () => {
    const report = new ConversionReport();
    report.mas("mapped", "oidc_providers[0]", "client id same-as-secret-42 (same-as-secret-42)");
    report.synapse("removed", "x", "abc stays");
    report.redact(["same-as-secret-42", undefined, "abc"]);
    assert.equal(report.entries[0]?.message, "client id <secret> (<secret>)");
    assert.equal(report.entries[1]?.message, "abc stays");
  });

  it("renders one line per entry, grouped by file, with a closing count", () => {
    const report = new ConversionReport();
    report.mas("mapped", "server_name", "-> matrix.homeserver: example.com.");
    report.mas("not-carried-over", "cas_config", "is enabled.");
    report.mas("changed", "database", "new database.");
    report.synapse("turned-off", "enable_registration", "registration happens in MAS.");
    const lines = renderConversionReport(report.entries, "after.yaml").split("\n");
    assert.deepEqual(lines, [
      "Conversion report: Synapse configuration -> MAS configuration",
      "  mapped            server_name -> matrix.homeserver: example.com.",
      "  NOT CARRIED OVER  cas_config: is enabled.",
      "  changed           database: new database.",
      "Synapse configuration after the migration (after.yaml)",
      "  turned off        enable_registration: registration happens in MAS.",
      "1 setting(s) not carried over and 1 changed: read those lines before starting MAS.",
    ]);
  });
});

describe("newUlid", () => {
  it("encodes the given time and random bits as a 26-character ULID", () => {
    const at = Date.UTC(2026, 10, 23, 12, 0, 0);
    const a = newUlid(at);
    const b = newUlid(at);
    assert.match(a, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    assert.notEqual(a, b);
    assert.equal(a.slice(0, 10), b.slice(0, 10), "same time part");
    assert.equal(ulidTimeMs(ulidTextToUuid(a) as string), at);
  });
});
