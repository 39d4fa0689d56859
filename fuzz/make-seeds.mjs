// Writes the seed corpus of every fuzz target into fuzz/seeds/<target>/ (committed; small, made by
// hand: valid and near-valid inputs). Signed seeds use fresh keys, so a second run writes other
// bytes for them; the rest is fixed. Run: node fuzz/make-seeds.mjs (Node's own crypto only).
// The targets' clock is NOW = 1750000000 (2025-06-15T15:06:40Z), the client "tpp" and the issuer
// https://as.example/t/w, as in fuzz/fuzz_targets/.
import { createHash, generateKeyPairSync, sign, constants } from "node:crypto";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const NOW = 1750000000;
const CLIENT = "tpp";
const ISSUER = "https://as.example/t/w";
const CPF = "12345678901";

const seeds = {};
const put = (target, name, content) => ((seeds[target] ??= {})[name] = content);

const b64 = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = (pair, extra) => ({ ...pair.publicKey.export({ format: "jwk" }), ...extra });
function jws(alg, claims, header = {}) {
  const input = `${b64({ alg, ...header })}.${b64(claims)}`;
  const data = Buffer.from(input);
  const sig =
    alg === "ES256" ? sign("sha256", data, { key: ec.privateKey, dsaEncoding: "ieee-p1363" })
    : alg === "RS256" ? sign("sha256", data, rsa.privateKey)
    : sign("sha256", data, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return `${input}.${sig.toString("base64url")}`;
}

// form_decode: bodies and queries of the form endpoints, and malformed ones.
put("form_decode", "token-code", "grant_type=authorization_code&code=c0de&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
put("form_decode", "authorize-query", "response_type=code&client_id=web&scope=openid+profile+email&state=a%20b&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256#frag");
put("form_decode", "client-assertion", "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJQUzI1NiJ9.e30.c2ln&scope=consents");
put("form_decode", "utf8", "name=%C3%A9t%C3%A9+%E2%82%AC&raw=d\u00e9j\u00e0&k%F0%9F%94%91=v");
put("form_decode", "repeated", "a=1&b=2&a=3");
put("form_decode", "malformed", "a=%zz&b=%+1&c=%&d=%C3%28");
put("form_decode", "empty-pairs", "&&=&a&=x&b=");

// jws: signed tokens whose claims carry the verifying JWK set, and refused shapes.
for (const alg of ["ES256", "RS256", "PS256"]) {
  const key = jwk(alg === "ES256" ? ec : rsa, { kid: `k-${alg}`, use: "sig", alg });
  put("jws", `${alg}-kid`, jws(alg, { iss: CLIENT, sub: CLIENT, aud: ISSUER, exp: NOW + 60, jti: "j1", keys: [key] }, { kid: `k-${alg}`, typ: "JWT" }));
  put("jws", `${alg}-no-kid`, jws(alg, { sub: "x", keys: [jwk(ec), jwk(rsa)] }));
}
put("jws", "alg-none", `${b64({ alg: "none" })}.${b64({ sub: "x" })}.`);
put("jws", "hs256", `${b64({ alg: "HS256", kid: "k" })}.${b64({ sub: "x" })}.c2ln`);
put("jws", "crit", `${b64({ alg: "ES256", crit: ["exp"] })}.${b64({ sub: "x" })}.c2ln`);
put("jws", "jwe-shape", `${b64({ alg: "RSA-OAEP", enc: "A256GCM" })}.a.b.c.d`);
put("jws", "bad-keys", `${b64({ alg: "RS256", kid: "r" })}.${b64({ keys: [{ kty: "RSA", kid: "r", n: "AQAB", e: "AQAB" }, { kty: "EC", crv: "P-256", x: "AQAB", y: "AQAB" }] })}.c2ln`);

// request_object: the parameters beside on the first line, then the object (a JWS or its claims).
const ro = { iss: CLIENT, aud: ISSUER, exp: NOW + 300, nbf: NOW, response_type: "code", client_id: CLIENT, redirect_uri: "https://app.example/cb", scope: "openid consent:urn:edgeauth:1", state: "s", nonce: "n", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256", max_age: 600, claims: { id_token: { cpf: { essential: true } } } };
put("request_object", "jws-ps256", `client_id=tpp&response_type=code\n${jws("PS256", ro, { kid: "k" })}`);
put("request_object", "jws-es256-no-beside", `\n${jws("ES256", { ...ro, aud: [ISSUER, "other"], nbf: undefined })}`);
put("request_object", "claims", `client_id=tpp&scope=openid+consent%3Aurn%3Aedgeauth%3A1&request=x\n${JSON.stringify(ro)}`);
put("request_object", "claims-contradicted", `state=other\n${JSON.stringify(ro)}`);
put("request_object", "claims-no-nbf", `\n${JSON.stringify({ ...ro, nbf: undefined, exp: NOW + 4000, client_id: "other" })}`);
put("request_object", "claims-null", `\n${JSON.stringify({ iss: CLIENT, aud: ISSUER, exp: NOW - 1, nbf: NOW - 4000, prompt: null, client_id: "" })}`);
put("request_object", "jwe-shape", `\n${b64({ alg: "RSA-OAEP", enc: "A256GCM" })}.a.b.c.d`);

// json_patch: RFC 6902's examples, every operation, failures, and growth by copying.
put("json_patch", "add", JSON.stringify([{ op: "add", path: "/scopes/-", value: "email" }, { op: "add", path: "/login/sso_enabled", value: false }]));
put("json_patch", "replace-remove", JSON.stringify([{ op: "replace", path: "/access_token_ttl", value: 300 }, { op: "remove", path: "/clients/0/redirect_uris/0" }]));
put("json_patch", "move-copy-test", JSON.stringify([{ op: "test", path: "/scopes/0", value: "openid" }, { op: "copy", from: "/scopes", path: "/extra" }, { op: "move", from: "/extra", path: "/login/scopes" }]));
put("json_patch", "doc-patch", JSON.stringify({ doc: { foo: ["bar", "baz"], "a/b": 1, "m~n": 2 }, patch: [{ op: "add", path: "/foo/1", value: "qux" }, { op: "test", path: "/a~1b", value: 1 }, { op: "copy", from: "/m~0n", path: "/c" }, { op: "remove", path: "/foo/0" }] }));
put("json_patch", "doubling", JSON.stringify({ doc: { a: "x".repeat(1000) }, patch: Array.from({ length: 8 }, (_, i) => ({ op: "copy", from: "", path: `/c${i}` })) }));
put("json_patch", "bad", JSON.stringify([{ op: "jump", path: "/a" }, { op: "add", path: "a", value: 1 }, { op: "move", from: "/login", path: "/login/x" }, 7]));
put("json_patch", "root", JSON.stringify({ doc: [1, [2, 3]], patch: [{ op: "add", path: "", value: { k: [] } }, { op: "add", path: "/k/-", value: 1 }, { op: "replace", path: "/k/0", value: "~1" }] }));

// certificate: the test certificates' DER (the bytes are the target's input) and one as PEM text.
for (const name of ["tpp-one", "tpp-two"]) {
  const pem = readFileSync(join(here, "../crates/core/tests/data", `${name}.pem`), "utf8");
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");
  put("certificate", `${name}.der`, der);
  if (name === "tpp-one") put("certificate", `${name}.pem`, pem);
}

// dn: two DNs a newline apart.
put("dn", "same", "CN=tpp-one,O=Banco Teste,C=BR\ncn=TPP-ONE, o=banco  teste , c=br");
put("dn", "oids", "organizationIdentifier=OFBBR-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR\nOID.2.5.4.97=ofbbr-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR");
put("dn", "escapes", "CN=Jo\\2C Inc+UID=1,O=y;C=BR\nUID=1+cn=Jo\\, Inc,O=y,C=BR");
put("dn", "utf8-hex", "CN=S\\C3\\A3o Paulo,1.2.3.4=#0403616263\nCN=S\u00e3o Paulo,1.2.3.4=#0403616263");
put("dn", "reversed", "C=BR,O=y,CN=x\nCN=x,O=y,C=BR");
put("dn", "fingerprint", `${"0123456789abcdef".repeat(4)}\nCN=x`);
put("dn", "bad", "CN\n=x,,+");

// consents: the consents API's and the bank-side management's JSON bodies.
const ACCOUNTS = ["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "RESOURCES_READ"];
put("consents", "create", JSON.stringify({ data: { loggedUser: { document: { identification: CPF, rel: "CPF" } }, permissions: ACCOUNTS } }));
put("consents", "create-business", JSON.stringify({ data: { loggedUser: { document: { identification: CPF, rel: "CPF" } }, businessEntity: { document: { identification: "12345678000190", rel: "CNPJ" } }, permissions: ["CUSTOMERS_BUSINESS_IDENTIFICATIONS_READ", "RESOURCES_READ", ...ACCOUNTS], expirationDateTime: "2026-01-01T00:00:00Z" } }));
put("consents", "create-refused", JSON.stringify({ data: { loggedUser: { document: { identification: "123", rel: "CPF" } }, permissions: ["ACCOUNTS_READ", "CUSTOMERS_PERSONAL_IDENTIFICATIONS_READ", "RESOURCES_READ"], expirationDateTime: "2025-06-15T14:13:20.5-03:00" } }));
put("consents", "extend", JSON.stringify({ data: { loggedUser: { document: { identification: CPF, rel: "CPF" } }, expirationDateTime: "2300-01-01T00:00:00Z" } }));
put("consents", "bank-filter", JSON.stringify({ types: ["data", "payment"], statuses: ["AWAITING_AUTHORISATION", "AUTHORISED"], client_id: "tpp", user_id: "u1" }));
put("consents", "bank-rejection", JSON.stringify({ client_id: "tpp", rejection: { rejectedBy: "ASPSP", reason: { code: "INTERNAL_SECURITY_REASON", additionalInformation: "Suspeita de fraude" } } }));
put("consents", "bank-rejection-only", JSON.stringify({ rejection: { rejectedBy: "ASPSP", reason: { code: "CONSENT_TECHNICAL_ISSUE" } } }));
put("consents", "date", "2025-12-31T23:59:60.123+01:30");

// payments: signed bodies (PS256, and ES256 refused) and the claims alone.
const payment = (payment) => ({ loggedUser: { document: { identification: CPF, rel: "CPF" } }, creditor: { personType: "PESSOA_JURIDICA", cpfCnpj: "12345678000190", name: "Loja Exemplo" }, payment: { type: "PIX", currency: "BRL", amount: "100.00", details: { localInstrument: "DICT", proxy: "loja@example.com", creditorAccount: { ispb: "12345678", issuer: "0001", number: "1234567890", accountType: "CACC" } }, ...payment } });
const claims = (data) => ({ iss: CLIENT, aud: ISSUER, iat: NOW, jti: "0b2c1d3e", data });
put("payments", "jws-today", jws("PS256", claims(payment({ date: "2025-06-15" })), { kid: "k", typ: "JWT" }));
put("payments", "jws-es256", jws("ES256", claims(payment({ date: "2025-06-15" }))));
put("payments", "claims-today", JSON.stringify(claims(payment({ date: "2025-06-15" }))));
put("payments", "claims-scheduled", JSON.stringify({ ...claims(payment({ schedule: { single: { date: "2025-07-01" } } })), aud: ["x", "https://as.example/t/w/open-banking/payments/v4/consents"] }));
put("payments", "claims-natural", JSON.stringify(claims({ ...payment({ date: "2025-06-14", amount: "0.01" }), businessEntity: { document: { identification: "12345678000190" } }, creditor: { personType: "PESSOA_NATURAL", cpfCnpj: "98765432100", name: "Ana" } })));
put("payments", "claims-refused", JSON.stringify({ ...claims(payment({ date: "2001-01-01", type: "TED", amount: "0.00" })), iat: NOW + 61, jti: "" }));

// webauthn: attestation objects (fmt none, an ES256 key for rp id as.example), authenticator data.
function cbor(v) {
  const head = (major, n) => (n < 24 ? Buffer.from([(major << 5) | n]) : n < 256 ? Buffer.from([(major << 5) | 24, n]) : Buffer.from([(major << 5) | 25, n >> 8, n & 255]));
  if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (typeof v === "string") return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}
{
  const { x, y } = jwk(ec);
  const cose = cbor(new Map([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(x, "base64url")], [-3, Buffer.from(y, "base64url")]]));
  const rpIdHash = createHash("sha256").update("as.example").digest();
  const authData = (flags, attested) => Buffer.concat([rpIdHash, Buffer.from([flags]), Buffer.from([0, 0, 0, 7]), ...(attested ? [Buffer.alloc(16, 0xab), Buffer.from([0, 16]), Buffer.alloc(16, 0xc7), cose] : [])]);
  put("webauthn", "attestation-none", cbor(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", authData(0x45, true)]])));
  put("webauthn", "attestation-packed", cbor(new Map([["fmt", "packed"], ["attStmt", new Map([["alg", -7], ["sig", Buffer.alloc(70, 1)]])], ["authData", authData(0x41, true)]])));
  put("webauthn", "authenticator-data", authData(0x05, false));
  put("webauthn", "authenticator-data-extensions", Buffer.concat([authData(0x85, false), cbor(new Map([["credProtect", 2]]))]));
}

for (const [target, files] of Object.entries(seeds)) {
  const dir = join(here, "seeds", target);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
}
console.log(Object.entries(seeds).map(([t, f]) => `${t}: ${Object.keys(f).length}`).join(", "));
