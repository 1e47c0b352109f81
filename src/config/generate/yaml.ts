/** Writing a generated configuration as readable YAML, with short comments where the operator must act. */
import { Document, isMap, isScalar, Scalar, type ToStringOptions } from "yaml";

/** A comment to put above a key, e.g. `[["database"], "Create this database first."]`. */
export type KeyComment = readonly [path: readonly string[], text: string];

/** No folding of long strings (templates, URLs) and lists indented under their key. */
export const YAML_OPTIONS: ToStringOptions = { lineWidth: 0, minContentWidth: 0 };

/**
 * Turns `text` into comment lines with one space after each `#`; a line that starts with `#` stays as it is
 * (`## note`), a comment inside a commented-out block, which stays one when the block is uncommented.
 */
function commentText(text: string): string {
  return text
    .split("\n")
    .map((line) => (line === "" || line.startsWith("#") ? line : ` ${line}`))
    .join("\n");
}

/** `value` as plain YAML text, written with {@link YAML_OPTIONS}. */
export function yamlText(value: unknown): string {
  return new Document(value).toString(YAML_OPTIONS);
}

/**
 * Puts `text` as a comment above the key at `path` of `doc` (a mapping key at any depth).
 * Returns false when there is no such key, so that callers can skip comments for absent sections.
 */
export function commentKey(doc: Document, path: readonly string[], text: string): boolean {
  const parentPath = path.slice(0, -1);
  const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  const name = path[path.length - 1];
  if (!isMap(parent) || name === undefined) return false;
  const pair = parent.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === name);
  if (pair === undefined) return false;
  // A key added with `set()` is a plain string, which cannot carry a comment: make it a node.
  const key = isScalar(pair.key) ? pair.key : new Scalar(name);
  pair.key = key;
  // A comment that starts with an empty line is set off from what comes before it by a blank line.
  if (text.startsWith("\n")) key.spaceBefore = true;
  const lines = commentText(text.replace(/^\n+/, ""));
  const existing = key.commentBefore;
  key.commentBefore = existing === undefined || existing === null ? lines : `${existing}\n${lines}`;
  return true;
}

/** `value` as a YAML document with a header comment and comments above the given keys. */
export function toCommentedYaml(value: object, header: string, comments: readonly KeyComment[]): string {
  const doc = new Document(value);
  doc.commentBefore = commentText(header);
  for (const [path, text] of comments) commentKey(doc, path, text);
  return doc.toString(YAML_OPTIONS);
}
