import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeBool, decodeFlag, decodeInt, decodeIp } from "./decode.ts";

describe("decoding Synapse values", () => {
  it("reads smallint flags as non-zero", () => {
    assert.deepEqual([0, 1, 2, "0", "1", null].map(decodeFlag), [false, true, true, false, true, false]);
  });
  it("reads nullable booleans: only true is true", () => {
    assert.deepEqual([true, false, null, undefined].map(decodeBool), [true, false, false, false]);
  });
  it("reads bigint strings as numbers", () => {
    assert.equal(decodeInt("1795406856636"), 1795406856636);
    assert.equal(decodeInt(null), null);
  });
  const ips: { raw: string | null; ip: string | null; unparsable: boolean }[] = [
    { raw: "127.0.0.1", ip: "127.0.0.1", unparsable: false },
    { raw: "2001:db8::1", ip: "2001:db8::1", unparsable: false },
    { raw: "-", ip: null, unparsable: false },
    { raw: null, ip: null, unparsable: false },
    { raw: "not-an-ip", ip: null, unparsable: true },
    { raw: "fe80::1%eth0", ip: null, unparsable: true },
    { raw: "10.0.0.1, 10.0.0.2", ip: null, unparsable: true },
  ];
  for (const c of ips) {
    it(`device ip ${JSON.stringify(c.raw)}`, () => assert.deepEqual(decodeIp(c.raw), { ip: c.ip, unparsable: c.unparsable }));
  }
});
