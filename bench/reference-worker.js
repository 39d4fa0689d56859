// The harness's ceiling: a minimal Workers script, not a server. It does the least a token endpoint
// can do under workerd and nothing an authorization server must (no tenant, no client lookup, no
// configuration, no key management): it checks one fixed Basic credential, reads the form, signs
// one RFC 9068-shaped ES256 JWT with WebCrypto and answers; discovery is a fixed JSON string.
// bench/bench.mjs loads it with the same tool and settings as edgeauth and oidc-provider, so the
// table shows how far any worker can go on this machine.
const enc = new TextEncoder();
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const b64urlJson = (v) => b64url(enc.encode(JSON.stringify(v)));
let key;
let discovery;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const issuer = url.origin + "/ref";
    if (request.method === "GET") {
      discovery ??= JSON.stringify({ issuer, token_endpoint: issuer + "/token", jwks_uri: issuer + "/jwks", grant_types_supported: ["client_credentials"], token_endpoint_auth_methods_supported: ["client_secret_basic"] });
      return new Response(discovery, { headers: { "content-type": "application/json", "cache-control": "public, max-age=300" } });
    }
    if (request.headers.get("authorization") !== "Basic " + btoa("svc:reference-secret")) {
      return Response.json({ error: "invalid_client" }, { status: 401 });
    }
    const form = new URLSearchParams(await request.text());
    if (form.get("grant_type") !== "client_credentials") return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    key ??= (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])).privateKey;
    const now = Math.floor(Date.now() / 1000);
    const input = b64urlJson({ alg: "ES256", typ: "at+jwt", kid: "ref" }) + "." +
      b64urlJson({ iss: issuer, sub: "svc", aud: "https://api.example/es256", client_id: "svc", scope: form.get("scope") ?? "", iat: now, exp: now + 600, jti: crypto.randomUUID() });
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, enc.encode(input)));
    const body = JSON.stringify({ access_token: input + "." + b64url(signature), token_type: "Bearer", expires_in: 600, scope: form.get("scope") ?? "" });
    return new Response(body, { headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" } });
  },
};
