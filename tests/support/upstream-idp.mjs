// An upstream OpenID provider that nobody here wrote: panva's oidc-provider (the certified Node
// implementation), on loopback, as the identity provider of federated sign-ins. The test picks who
// signs in there (`setUser`), counts the requests each path receives (`hits`), and can make the
// provider misbehave (`setMode`): a slow token endpoint, an ID token with a bad signature, nonce,
// issuer or audience.
import http from "node:http";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import Provider from "oidc-provider";
import * as jose from "jose";

/**
 * accounts: { id: claims } (every claim the provider may release, `sub` included).
 * clients: [{ client_id, client_secret?, token_endpoint_auth_method?, jwks_uri?, redirect_uris }].
 * loginForm: the provider asks for a username on a page of its own (for browser tests), instead of
 * signing in `setUser`'s account at once.
 */
export async function startUpstream({ accounts, clients, loginForm = false }) {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const privateJwk = { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }), kid: "up-1", alg: "ES256", use: "sig" };
  const signingKey = await jose.importJWK(privateJwk, "ES256");
  const provider = new Provider(issuer, {
    jwks: { keys: [privateJwk] },
    clients: clients.map((c) => ({
      grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "client_secret_basic",
      id_token_signed_response_alg: "ES256", ...c,
    })),
    claims: { openid: ["sub"], profile: ["name", "given_name", "family_name", "preferred_username"], email: ["email", "email_verified"], crm: ["crm_id"] },
    scopes: ["openid", "profile", "email", "crm"],
    conformIdTokenClaims: false,
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    findAccount: async (_ctx, id) => (accounts[id] ? { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) } : undefined),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
  });
  provider.on("server_error", (_ctx, err) => process.stderr.write(`[upstream] server_error: ${err?.stack ?? err}\n`));

  const state = { user: Object.keys(accounts)[0], mode: "normal", hits: {} };
  // The login: whoever the test chose (or typed, with `loginForm`) signs in and consents to what was asked.
  async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res);
    const { params, session } = details;
    let user = state.user;
    const needsLogin = !session?.accountId || details.prompt.name === "login";
    if (loginForm && needsLogin) {
      if (req.method !== "POST") {
        res.writeHead(200, { "content-type": "text/html" });
        return void res.end(`<!doctype html><html lang="en"><title>Upstream</title><main><h1>Upstream sign-in</h1><form method="post" action="/interaction/${details.uid}"><label for="login">Upstream username</label><input id="login" name="login" autocomplete="username"><button type="submit">Continue at Upstream</button></form></main></html>`);
      }
      let body = "";
      for await (const c of req) body += c;
      user = new URLSearchParams(body).get("login");
      if (!accounts[user]) { res.writeHead(400); return void res.end("unknown user"); }
    }
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: user, clientId: params.client_id });
    grant.addOIDCScope(params.scope);
    const result = { consent: { grantId: await grant.save() } };
    if (needsLogin) result.login = { accountId: user };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  // Rewrites the token endpoint's answer to break its ID token the way `mode` says.
  async function broken(idToken) {
    const [h, p, s] = idToken.split(".");
    if (state.mode === "bad-signature") return `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
    const claims = JSON.parse(Buffer.from(p, "base64url"));
    if (state.mode === "bad-nonce") claims.nonce = "not-the-nonce";
    if (state.mode === "bad-issuer") claims.iss = "http://127.0.0.1:1/evil";
    if (state.mode === "bad-audience") claims.aud = "someone-else";
    return new jose.SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "up-1", typ: "JWT" }).sign(signingKey);
  }

  const callback = provider.callback();
  server.on("request", (req, res) => {
    const path = new URL(req.url, issuer).pathname;
    state.hits[path] = (state.hits[path] ?? 0) + 1;
    if (path.startsWith("/interaction/")) {
      return void interaction(req, res).catch((e) => { res.statusCode = 500; res.end(String(e)); });
    }
    if (path === "/token" && state.mode === "slow") {
      // Longer than the server's 3-second limit; answered by nobody.
      return void setTimeout(() => res.destroy(), 5000);
    }
    if (path === "/token" && state.mode.startsWith("bad-")) {
      const chunks = [];
      const end = res.end.bind(res);
      res.write = (c) => { chunks.push(Buffer.from(c)); return true; };
      res.end = (c) => {
        if (c) chunks.push(Buffer.from(c));
        const body = JSON.parse(Buffer.concat(chunks).toString() || "{}");
        const send = () => { const out = JSON.stringify(body); res.setHeader("content-length", Buffer.byteLength(out)); end(out); };
        if (body.id_token) broken(body.id_token).then((t) => { body.id_token = t; send(); }); else send();
        return res;
      };
    }
    callback(req, res);
  });

  return {
    issuer,
    hits: state.hits,
    setUser(id) { state.user = id; },
    setMode(mode) { state.mode = mode; },
    /** Requests to the paths of the sign-in itself (authorization, token, userinfo). */
    calls() { return ["/auth", "/token", "/me"].reduce((n, p) => n + (state.hits[p] ?? 0), 0) + Object.entries(state.hits).filter(([p]) => p.startsWith("/auth/")).reduce((n, [, c]) => n + c, 0); },
    stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}
