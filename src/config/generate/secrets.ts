/** Fresh secrets for a generated MAS configuration: encryption key, signing keys, shared secret, provider ULIDs. */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { ulidFromParts, uuidToUlidText } from "../../model/ids.ts";

/** One entry of MAS's `secrets.keys`. */
export interface SigningKey {
  kid: string;
  /** The private key, PEM, PKCS#8. */
  key: string;
}

/** The secrets a new MAS deployment needs; generated once, then kept. */
export interface GeneratedSecrets {
  /** `secrets.encryption`: 32 random bytes, hex. */
  encryption: string;
  /** `secrets.keys`: an RSA 2048 key (MAS requires one) and an EC P-256 key. */
  keys: SigningKey[];
  /** `matrix.secret`, shared with Synapse's `matrix_authentication_service.secret`. */
  matrixSecret: string;
}

/** A key id: 10 random characters from [A-Za-z0-9]. */
function newKid(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 256 is not a multiple of 62; rejecting bytes >= 248 keeps every character equally likely.
  let out = "";
  while (out.length < 10) {
    for (const byte of randomBytes(16)) {
      if (byte < 248 && out.length < 10) out += alphabet[byte % 62];
    }
  }
  return out;
}

function rsaKey(): SigningKey {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { kid: newKid(), key: privateKey };
}

function ecKey(): SigningKey {
  const { privateKey } = generateKeyPairSync("ec", {
    namedCurve: "prime256v1",
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { kid: newKid(), key: privateKey };
}

/** Generates every secret anew with Node's CSPRNG. */
export function generateSecrets(): GeneratedSecrets {
  return {
    encryption: randomBytes(32).toString("hex"),
    keys: [rsaKey(), ecKey()],
    matrixSecret: randomBytes(32).toString("hex"),
  };
}

/**
 * A fresh ULID in the 26-character Crockford form MAS configuration files use:
 * 48 bits of the current Unix time in milliseconds, then 80 random bits.
 */
export function newUlid(nowMs: number = Date.now()): string {
  return uuidToUlidText(ulidFromParts(nowMs, randomBytes(10).toString("hex")));
}
