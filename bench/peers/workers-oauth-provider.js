// A peer for the edge benchmark: @cloudflare/workers-oauth-provider as its README's one-Worker shape
// (`OAuthProvider`: the provider owns the token endpoint, `defaultHandler` owns /authorize, requests
// under `apiRoute` reach `apiHandler` with the token's props). bench/peers.mjs bundles it with
// esbuild and serves it under workerd through miniflare, with the KV namespace OAUTH_KV.
//
// What the library leaves to the app is as small as its docs show (docs/resource-servers.md, the
// `/authorize` route): no sign-in and no consent page, every authorization request is approved for
// one fixed user by `completeAuthorization()`. Its tokens are opaque (`userId:grantId:secret`),
// stored in KV by SHA-256 hash, the grant's props encrypted with AES-GCM under a key wrapped by each
// token: it signs nothing, so there is no algorithm to choose.
//
// Bindings: OAUTH_KV (KV), RESOURCE (the protected API's URL as the load reaches it, e.g.
// http://127.0.0.1:PORT/api: the provider checks a token's audience against the request's origin
// and path), SETUP_SECRET (guards /bench/setup, which registers the benchmark's client).
import { OAuthProvider } from "@cloudflare/workers-oauth-provider";

const USER = "bench";
const PROPS = { userId: USER, name: "Bench User", email: "bench@example.com", email_verified: true };

const defaultHandler = {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/authorize") {
      const oauthRequest = await env.OAUTH_PROVIDER.parseAuthRequest(request);
      const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
        request: oauthRequest,
        userId: USER,
        metadata: {},
        scope: oauthRequest.scope,
        props: PROPS,
        // The default revokes the user's earlier grants for this client, which would revoke the
        // codes and refresh tokens of the benchmark's other concurrent flows (one user, one client;
        // edgeauth's grants coexist). The docs name this option for concurrent grants.
        revokeExistingGrants: false,
      });
      return Response.redirect(redirectTo, 302);
    }
    // Pre-registered client (the docs' `createClient()` through OAuthHelpers), for the benchmark.
    if (url.pathname === "/bench/setup" && request.method === "POST") {
      if (request.headers.get("authorization") !== `Bearer ${env.SETUP_SECRET}`) return new Response("forbidden", { status: 403 });
      const body = await request.json();
      const client = await env.OAUTH_PROVIDER.createClient({
        clientName: "bench",
        redirectUris: body.redirectUris,
        tokenEndpointAuthMethod: "client_secret_basic",
        grantTypes: ["authorization_code", "refresh_token"],
        responseTypes: ["code"],
      });
      return Response.json(client);
    }
    return new Response("not found", { status: 404 });
  },
};

// The protected call: the provider has validated the bearer token (KV read, key unwrap, props
// decrypted) before this runs; it answers with what completeAuthorization stored.
const apiHandler = {
  async fetch(request, env, ctx) {
    const p = ctx.props;
    return Response.json({ sub: p.userId, name: p.name, email: p.email, email_verified: p.email_verified, scope: ctx.auth?.scope });
  },
};

let provider;
export default {
  fetch(request, env, ctx) {
    // Built once per isolate: the resource URL comes from a binding.
    provider ??= new OAuthProvider({
      apiRoute: "/api",
      apiHandler,
      defaultHandler,
      authorizeEndpoint: "/authorize",
      tokenEndpoint: "/oauth/token",
      scopesSupported: ["openid", "profile", "email", "offline_access"],
      resourceMetadata: { resource: env.RESOURCE, authorization_servers: [new URL(env.RESOURCE).origin] },
      // The benchmark's lifetimes (bench/common.mjs TTLS): 10 min access, 30 days refresh (its default).
      accessTokenTTL: 600,
      refreshTokenTTL: 30 * 86400,
    });
    return provider.fetch(request, env, ctx);
  },
};
