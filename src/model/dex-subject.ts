/**
 * Dex does not hand its connectors' user ids to clients as they are: the `sub` it issues is a
 * protobuf message `{1: user id, 2: connector id}` (both strings), base64url without padding. MAS
 * matches links on that `sub`, so a link written for a user behind Dex must carry the same encoding.
 */

/** A protobuf varint: 7 bits per byte, low bits first, the high bit set on every byte but the last. */
function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

/** A length-delimited protobuf field (wire type 2) holding `text` as UTF-8. */
function stringField(field: number, text: string): Buffer {
  const value = Buffer.from(text, "utf8");
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(value.length)]), value]);
}

/** The `sub` Dex issues for `userId` logged in through the connector `connectorId`. */
export function dexSubject(userId: string, connectorId: string): string {
  return Buffer.concat([stringField(1, userId), stringField(2, connectorId)]).toString("base64url");
}
