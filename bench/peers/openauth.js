// A peer for the edge benchmark: @openauthjs/openauth's issuer (a Hono app) on Workers with its
// Cloudflare KV storage, as its Workers examples do (examples/issuer/cloudflare-*). bench/peers.mjs
// bundles it with esbuild and serves it under workerd through miniflare, with the KV namespace
// AUTH_STORAGE and the nodejs_compat flag its examples set (the issuer reads `process.env`).
//
// What the library leaves to the app is as small as its provider interface allows: one provider,
// `auto`, whose /auto/authorize approves the fixed user at once (`ctx.success`), and whose `client()`
// (the hook OpenAuth's token endpoint calls for grant_type=client_credentials; no built-in provider
// has one) accepts one fixed client. OpenAuth has no client registry and no client secrets for the
// code flow: clients are public, identified by client_id, held to PKCE when they send a challenge;
// `allow` admits the benchmark's client_id and redirect URI. It signs its access tokens ES256 (fixed
// in the library), keys generated on first use and kept in KV; the authorization state between
// /authorize and the provider rides in a cookie encrypted to an RSA-OAEP-512 key (also in KV).
//
// The protected call (/me) is what an OpenAuth resource server does: `createClient().verify()`, the
// JWT checked against the issuer's JWKS (fetched once, in-process, as the docs' service-binding
// example does), then the subject answered. OpenAuth has no userinfo or introspection endpoint.
//
// Bindings: AUTH_STORAGE (KV), REDIRECT_URI, SVC_SECRET (the client_credentials client's secret),
// ISSUER_PER_REQUEST ("1": build the issuer on every request, as the docs' Workers examples do,
// which re-reads and re-imports its keys from KV on every request; otherwise once per isolate).
import { issuer } from "@openauthjs/openauth";
import { CloudflareStorage } from "@openauthjs/openauth/storage/cloudflare";
import { joinKey } from "@openauthjs/openauth/storage/storage";
import { createSubjects } from "@openauthjs/openauth/subject";
import { createClient } from "@openauthjs/openauth/client";
import { object, string, boolean } from "valibot";

const subjects = createSubjects({
  user: object({ id: string(), name: string(), email: string(), email_verified: boolean() }),
  service: object({ clientID: string() }),
});

function AutoProvider(env) {
  return {
    type: "auto",
    init(route, ctx) {
      route.get("/authorize", (c) => ctx.success(c, { user: "bench" }));
    },
    async client({ clientID, clientSecret }) {
      if (clientID !== "svc" || clientSecret !== env.SVC_SECRET) throw new Error("invalid client");
      return { service: clientID };
    },
  };
}

// CloudflareStorage as released in 0.4.3 turns a 60 s lifetime (every authorization code, and a
// refresh token's reuse mark) into expirationTtl 59 whenever a millisecond passes between two
// Date.now() calls, and KV refuses it ("Invalid expiration_ttl of 59"): the code flow fails at
// random (openauth issues #133, #204, #302). The fix merged upstream (PR #219, Math.max(ttl, 60))
// is not in a release; this applies it to the adapter's set().
function Storage(namespace) {
  const kv = CloudflareStorage({ namespace });
  return {
    ...kv,
    async set(key, value, expiry) {
      await namespace.put(joinKey(key), JSON.stringify(value), { expirationTtl: expiry ? Math.max(Math.floor((expiry.getTime() - Date.now()) / 1000), 60) : undefined });
    },
  };
}

function build(env) {
  return issuer({
    storage: Storage(env.AUTH_STORAGE),
    subjects,
    providers: { auto: AutoProvider(env) },
    // The benchmark's lifetimes (bench/common.mjs TTLS); refresh reuse window left at its default (60 s).
    ttl: { access: 600, refresh: 30 * 86400 },
    allow: async ({ clientID, redirectURI }) => clientID === "app" && redirectURI === env.REDIRECT_URI,
    async success(ctx, value) {
      if (value.service) return ctx.subject("service", { clientID: value.service });
      return ctx.subject("user", { id: value.user, name: "Bench User", email: "bench@example.com", email_verified: true });
    },
  });
}

let cached;
let client;
const app = (env) => (env.ISSUER_PER_REQUEST === "1" ? build(env) : (cached ??= build(env)));

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/me") {
      client ??= createClient({ clientID: "app", issuer: url.origin, fetch: (input, init) => app(env).fetch(new Request(input, init), env, ctx) });
      const token = (request.headers.get("authorization") ?? "").replace(/^Bearer /i, "");
      const verified = await client.verify(subjects, token);
      if (verified.err) return Response.json({ error: "invalid_token" }, { status: 401 });
      return Response.json({ sub: verified.subject.properties.id, ...verified.subject.properties });
    }
    return app(env).fetch(request, env, ctx);
  },
};
