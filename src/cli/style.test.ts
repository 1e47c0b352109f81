/** Tests for the text style of stderr: colour and wrapping on a terminal only, never cutting a word. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { finding } from "../checks/finding.ts";
import { renderFindings } from "./render.ts";
import { PLAIN, severityLabel, textStyleFor, wrapWords } from "./style.ts";

const RED = "\u001b[31m";
const YELLOW = "\u001b[33m";
const ESC = "\u001b[";

describe("textStyleFor", () => {
  const cases: {
    name: string;
    stream: { isTTY?: boolean; columns?: number };
    env: NodeJS.ProcessEnv;
    colour: boolean;
    width: number | undefined;
  }[] = [
    { name: "a terminal", stream: { isTTY: true, columns: 120 }, env: {}, colour: true, width: 120 },
    { name: "a terminal, NO_COLOR=1", stream: { isTTY: true, columns: 120 }, env: { NO_COLOR: "1" }, colour: false, width: 120 },
    {
      name: "a terminal, NO_COLOR empty (does not count)",
      stream: { isTTY: true, columns: 90 },
      env: { NO_COLOR: "" },
      colour: true,
      width: 90,
    },
    { name: "a dumb terminal", stream: { isTTY: true, columns: 90 }, env: { TERM: "dumb" }, colour: false, width: 90 },
    { name: "a terminal of unknown width", stream: { isTTY: true }, env: {}, colour: true, width: 80 },
    { name: "a pipe or file", stream: { isTTY: false, columns: 120 }, env: {}, colour: false, width: undefined },
    { name: "a stream without isTTY", stream: {}, env: { FORCE_COLOR: "1" }, colour: false, width: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(textStyleFor(c.stream, c.env), { colour: c.colour, width: c.width });
    });
  }
});

describe("severityLabel", () => {
  it("colours ERROR red and WARNING yellow when colour is on", () => {
    const on = { colour: true, width: 80 };
    assert.ok(severityLabel("error", on).includes(`${RED}`) && severityLabel("error", on).includes("ERROR"));
    assert.ok(severityLabel("warning", on).includes(`${YELLOW}`) && severityLabel("warning", on).includes("WARNING"));
    assert.equal(severityLabel("info", on), "INFO");
  });
  it("is plain text when colour is off", () => {
    assert.equal(severityLabel("error", PLAIN), "ERROR");
    assert.equal(severityLabel("warning", { colour: false, width: 80 }), "WARNING");
  });
});

describe("wrapWords", () => {
  const text =
    'ERROR PROVIDER_NOT_IN_MAS (3): 3 external ids use Synapse\'s auth_provider "oidc-github", but no MAS provider has ' +
    "synapse_idp_id: oidc-github; add `synapse_idp_id: oidc-github` to the provider under upstream_oauth2.providers";
  for (const width of [30, 40, 57, 80, 100]) {
    it(`at ${width} columns: no line longer, no word cut, the words unchanged`, () => {
      const wrapped = wrapWords(text, width, 4);
      const lines = wrapped.split("\n");
      assert.ok(lines.length > 1);
      for (const line of lines) assert.ok(line.length <= width, `${JSON.stringify(line)} is longer than ${width}`);
      lines
        .slice(1)
        .forEach((line) => assert.ok(line.startsWith("    ") && line[4] !== " ", `continuation indented by 4: ${line}`));
      // Every word of the original appears whole, in order.
      assert.deepEqual(wrapped.split(/\s+/), text.split(" "));
    });
  }
  it("leaves a line that fits, and everything without a width, alone", () => {
    assert.equal(wrapWords("short line", 80), "short line");
    assert.equal(wrapWords(text, undefined), text);
  });
  it("puts a word longer than the line on its own line, whole", () => {
    const long = "x".repeat(50);
    assert.equal(wrapWords(`see ${long} now`, 20, 2), `see\n  ${long}\n  now`);
  });
  it("keeps the leading indentation of the first line", () => {
    assert.equal(
      wrapWords("    e.g. @alice:example.com, @bob:example.com", 30, 9),
      "    e.g. @alice:example.com,\n         @bob:example.com",
    );
  });
});

describe("renderFindings", () => {
  const findings = [
    finding(
      "GUEST_ACCESS_ENABLED",
      "Synapse has `allow_guest_access: true`, but MAS has no guest accounts and Synapse cannot offer guest access once MAS handles authentication.",
    ),
    finding("GUEST_USERS", "guest accounts are migrated with is_guest, which MAS cannot serve", {
      count: 2,
      examples: ["@guest1:example.com", "@guest2:example.com"],
    }),
  ];
  it("off a terminal: one plain line per finding, no escape codes", () => {
    const text = renderFindings(findings, PLAIN);
    assert.ok(!text.includes(ESC));
    assert.equal(
      text,
      `ERROR GUEST_ACCESS_ENABLED: ${findings[0]!.message}\n` +
        `WARNING GUEST_USERS (2): ${findings[1]!.message}\n    e.g. @guest1:example.com, @guest2:example.com\n`,
    );
  });
  it("on a terminal: coloured labels, lines wrapped to its width at word boundaries", () => {
    const text = renderFindings(findings, { colour: true, width: 60 });
    const lines = text.trimEnd().split("\n");
    assert.ok(lines[0]!.startsWith(RED), lines[0]);
    assert.ok(lines.some((l) => l.startsWith(YELLOW)));
    // Without the escape codes the text is the plain rendering, re-wrapped.
    // eslint-disable-next-line no-control-regex -- matching the escape character is the point
    const plain = text.replace(/\u001b\[[0-9;]*m/g, "");
    for (const line of plain.split("\n")) assert.ok(line.length <= 60, line);
    assert.deepEqual(plain.split(/\s+/).filter(Boolean), renderFindings(findings, PLAIN).split(/\s+/).filter(Boolean));
  });
  it("NO_COLOR on a terminal: wrapped, not coloured", () => {
    const text = renderFindings(findings, textStyleFor({ isTTY: true, columns: 60 }, { NO_COLOR: "1" }));
    assert.ok(!text.includes(ESC));
    assert.ok(text.split("\n").length > 4);
  });
});
