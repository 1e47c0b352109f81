import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dexSubject } from "./dex-subject.ts";

/**
 * The expected values are built here byte by byte, independently of the encoder: tag, length
 * (one byte below 128; two bytes, low 7 bits first with the high bit set, from 128 to 16383).
 */
function expected(userId: string, connector: string): string {
  const field = (tag: number, text: string): number[] => {
    const bytes = [...Buffer.from(text, "utf8")];
    const n = bytes.length;
    const length = n < 128 ? [n] : [(n % 128) + 128, Math.floor(n / 128)];
    return [tag, ...length, ...bytes];
  };
  return Buffer.from([...field(0x0a, userId), ...field(0x12, connector)]).toString("base64url");
}

describe("Dex's subject encoding", () => {
  it("matches Dex's documented example: user 2342749 through connector github", () => {
    assert.equal(dexSubject("2342749", "github"), "CgcyMzQyNzQ5EgZnaXRodWI");
  });

  const cases: [string, string, string][] = [
    ["an ASCII uid through saml", "alice", "saml"],
    ["a non-ASCII id (lengths count UTF-8 bytes, not characters)", "jürgen.müller", "ldap"],
    ["an id of 127 bytes (the longest one-byte length)", "a".repeat(127), "cas"],
    ["an id of 128 bytes (the first two-byte length)", "b".repeat(128), "cas"],
    ["an id of 300 multi-byte bytes", "é".repeat(150), "ldap"],
    ["an empty id", "", "ldap"],
  ];
  for (const [name, userId, connector] of cases) {
    it(name, () => {
      assert.equal(dexSubject(userId, connector), expected(userId, connector));
    });
  }

  it("uses base64url without padding", () => {
    const subject = dexSubject("x?>", "c");
    assert.doesNotMatch(subject, /[+/=]/);
  });
});
