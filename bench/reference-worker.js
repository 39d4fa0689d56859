// The harness's ceiling: a minimal Workers script, not a server. It does the least a token endpoint
// can do under workerd and nothing an authorization server must (no tenant, no client lookup, no
// configuration, no key management): it checks one fixed Basic credential, reads the form, signs
// one RFC 9068-shaped ES256 JWT (PS256 under /ref-ps) with WebCrypto and answers; discovery and
// the JWKS are fixed JSON strings (the JWKS: one P-256 and two RSA-2048 public keys, as edgeauth's
// bench workspace has).
// bench/bench.mjs loads it with the same tool and settings as edgeauth and oidc-provider, so the
// table shows how far any worker can go on this machine.
const enc = new TextEncoder();
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const b64urlJson = (v) => b64url(enc.encode(JSON.stringify(v)));
let key;
let psKey;
let discovery;
const JWKS = '{"keys":[{"kty":"EC","x":"7mdzY8EK48yZ9bmnihHryhrcpDnLeb5qAzUcHKqYMwc","y":"SOXdIs8MyroeozwU1uH-11sx_rJ_BguOyemg6W-R23g","crv":"P-256","kid":"zPjYSz6B8m-lMbBb3cfcr11VVdUoCSiEr9CQOZ67QOw","use":"sig","alg":"ES256"},{"kty":"RSA","n":"hMSCeP9uSxEDFRk6b9j76zAeyo6ETSX_3-MMxkt1T6U1_bWwuiBrBr3EqdlQFxgEJQ1E088Wi3HGQFJO_8WeD3MJY4TSLTcRFs8fb9b4eMb9IwEFqKbG34IbN-mCL3UFZ9bA-_S5s6URvgYzNdU5983EBFp2nwosNEv2GKWL3RjhWbJvcDf0kM9GviiKztS1V_O1cJ4hj8QCW4HcuEjrqVROgE2wE_WUFE7Zr845uCtOmjqCNaFqRwzqM6F4HhqM5Ib2tdKzBsMKFr6_H8_glfBkE8Pnbq-HVvfy-hrurljLrrZPtq93hnwNzWhbELolxYsNjk5H-7zV8N-vUGM2dQ","e":"AQAB","kid":"r0351YHQEHgi0fPwvMJOTyZNoKtkOp81JSeOJMXp0jo","use":"sig","alg":"RS256"},{"kty":"RSA","n":"kHDVcKAEEBJF83wVjmXMz-TzIYxSeNWjWuP3V8GyKvwfK8Cl5q-mx3k3vX8Ma9uV0NTXONY5gQZpB9kFLx2tXLzREPCUqj9DkL37EKsMkATZC7myByHzYkiYLL93zrz-x-iv-BpJHMqNXXJDrCur56ecdJZ-uRrePul9I3sddPEHKrkPGwOpGQJ8FZYJ4fke2ijSNgfDokQUTn6TLUP32HRaBH_HRZOaANz-DhHKuLcTAaQCNfxXLsCnpHmqqWjWth97O9ISbv-PIOnLX7i3H7ZpFH64y7bg_l97me5sxLrLyZzbeMVIGxIhiQcNTqHD0OTG3hjBJwsYgWWAKcvouQ","e":"AQAB","kid":"F4ftizjzK6nEZwtI-8wsyKCOY8--86EMr-GT2gDC9vM","use":"sig","alg":"PS256"}]}';

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const issuer = url.origin + "/ref";
    if (request.method === "GET") {
      if (url.pathname.endsWith("/jwks")) {
        return new Response(JWKS, { headers: { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=60" } });
      }
      discovery ??= JSON.stringify({ issuer, token_endpoint: issuer + "/token", jwks_uri: issuer + "/jwks", grant_types_supported: ["client_credentials"], token_endpoint_auth_methods_supported: ["client_secret_basic"] });
      return new Response(discovery, { headers: { "content-type": "application/json", "cache-control": "public, max-age=300" } });
    }
    if (request.headers.get("authorization") !== "Basic " + btoa("svc:reference-secret")) {
      return Response.json({ error: "invalid_client" }, { status: 401 });
    }
    const form = new URLSearchParams(await request.text());
    if (form.get("grant_type") !== "client_credentials") return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    // Under /ref-ps the token is signed PS256 with an RSA-2048 key (RSA-PSS, salt as long as the hash).
    const ps = url.pathname.startsWith("/ref-ps/");
    let signer;
    if (ps) {
      psKey ??= (await crypto.subtle.generateKey({ name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["sign", "verify"])).privateKey;
      signer = [{ name: "RSA-PSS", saltLength: 32 }, psKey];
    } else {
      key ??= (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])).privateKey;
      signer = [{ name: "ECDSA", hash: "SHA-256" }, key];
    }
    const now = Math.floor(Date.now() / 1000);
    const input = b64urlJson({ alg: ps ? "PS256" : "ES256", typ: "at+jwt", kid: "ref" }) + "." +
      b64urlJson({ iss: issuer, sub: "svc", aud: ps ? "https://api.example/ps256" : "https://api.example/es256", client_id: "svc", scope: form.get("scope") ?? "", iat: now, exp: now + 600, jti: crypto.randomUUID() });
    const signature = new Uint8Array(await crypto.subtle.sign(signer[0], signer[1], enc.encode(input)));
    const body = JSON.stringify({ access_token: input + "." + b64url(signature), token_type: "Bearer", expires_in: 600, scope: form.get("scope") ?? "" });
    return new Response(body, { headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" } });
  },
};
