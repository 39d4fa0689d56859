// A software passkey authenticator for the scenario tests: one P-256 credential (ES256), a sign
// counter, user presence and verification flags, attestation "none", CBOR written by hand. It
// answers what the pages' script would send from navigator.credentials.create() and .get().
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";

// ---- CBOR (the authenticator's side) ----
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) { const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(n, 1); return b; }
  const b = Buffer.alloc(5); b[0] = (major << 5) | 26; b.writeUInt32BE(n, 1); return b;
}
export function cbor(v) {
  if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (typeof v === "string") { const b = Buffer.from(v); return Buffer.concat([head(3, b.length), b]); }
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error("cannot encode " + v);
}
export const sha256 = (b) => createHash("sha256").update(b).digest();
export const b64 = (b) => Buffer.from(b).toString("base64url");

/** A passkey authenticator: one P-256 credential, a counter, user verification on or off. */
export class Authenticator {
  constructor({ uv = true } = {}) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.key = privateKey;
    this.jwk = publicKey.export({ format: "jwk" });
    this.id = randomBytes(32);
    this.count = 0;
    this.uv = uv;
  }
  authData(rpId, attested, { up = true, uv = this.uv } = {}) {
    const flags = (up ? 1 : 0) | (uv ? 4 : 0) | (attested ? 0x40 : 0);
    const count = Buffer.alloc(4); count.writeUInt32BE(this.count);
    const parts = [sha256(rpId), Buffer.from([flags]), count];
    if (attested) {
      const len = Buffer.alloc(2); len.writeUInt16BE(this.id.length);
      const cose = cbor(new Map([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(this.jwk.x, "base64url")], [-3, Buffer.from(this.jwk.y, "base64url")]]));
      parts.push(Buffer.alloc(16, 0xab), len, this.id, cose);
    }
    return Buffer.concat(parts);
  }
  clientData(type, challenge, origin) {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }
  /** navigator.credentials.create(), as the page's script sends it. */
  create(options, { origin, rpId = options.rp.id, ...flags } = {}) {
    this.userHandle = options.user.id;
    const clientDataJSON = this.clientData("webauthn.create", options.challenge, origin);
    const attestationObject = cbor(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", this.authData(rpId, true, flags)]]));
    return { id: b64(this.id), rawId: b64(this.id), type: "public-key", response: { clientDataJSON: b64(clientDataJSON), attestationObject: b64(attestationObject), transports: ["internal"] } };
  }
  /** navigator.credentials.get(). */
  get(options, { origin, rpId = options.rpId, userHandle = true, ...flags } = {}) {
    this.count += 1;
    const clientDataJSON = this.clientData("webauthn.get", options.challenge, origin);
    const authenticatorData = this.authData(rpId, false, flags);
    const signature = sign("sha256", Buffer.concat([authenticatorData, sha256(clientDataJSON)]), this.key); // DER
    const response = { clientDataJSON: b64(clientDataJSON), authenticatorData: b64(authenticatorData), signature: b64(signature) };
    if (userHandle) response.userHandle = this.userHandle;
    return { id: b64(this.id), rawId: b64(this.id), type: "public-key", response };
  }
}
