// The placement benchmark's regional profiles (bench/placement.mjs; the model and the sources are
// in BENCHMARKS.md, "Placement model"). Each is a round-trip delay in ms per kind of storage call,
// as seen from the Workers location that runs the request. The user and the relying party are
// both in the profile's region, so the browser's requests (authorize) and the relying party's
// back-channel calls (token, userinfo, introspection) run at the same location.
//
// The D1 primary is in eastern North America (location hint `enam`); a read replica in every region;
// KV's central stores are taken to be in eastern North America too (KV's docs say only "a small
// number of centralized data centers"); the SSO session's Durable Object is created near the user
// at sign-in, so near the location; outbound fetches go to a service in the same region.

export const KINDS = ["d1_primary", "d1_replica", "kv_hit", "kv_miss", "kv_write", "do", "fetch"];

/** A call inside the region: the Worker's location to another data center nearby and back. */
const IN_REGION = 8;
/** A KV read answered by the location's cache. */
const KV_HIT = 2;

/** `rtt`: the inter-region round trip from the profile's region to eastern North America. */
function profile(description, rtt) {
  return {
    description,
    inter_region_rtt_ms: rtt,
    delays: {
      d1_primary: IN_REGION + rtt,
      d1_replica: IN_REGION,
      kv_hit: KV_HIT,
      kv_miss: KV_HIT + IN_REGION + rtt,
      kv_write: KV_HIT + IN_REGION + rtt,
      do: IN_REGION,
      fetch: IN_REGION,
      kv_cache_ttl_s: 60,
    },
  };
}

export const PROFILES = {
  // Every call local, no wait: the CPU benchmark's situation (counts, and the floor).
  loopback: { description: "no delays: every storage call local to this machine (the CPU benchmark's situation)", inter_region_rtt_ms: 0, delays: { d1_primary: 0, d1_replica: 0, kv_hit: 0, kv_miss: 0, kv_write: 0, do: 0, fetch: 0, kv_cache_ttl_s: 60 } },
  near: profile("user and relying party in eastern North America (e.g. Washington DC), near the D1 primary", 0),
  // AWS us-east-1 <-> eu-west-1: 80.5 ms average round trip.
  continent: profile("user and relying party in western Europe (e.g. Dublin / London), one ocean from the D1 primary", 80),
  // AWS us-east-1 <-> ap-southeast-2: 229.7 ms average round trip.
  far: profile("user and relying party in Australia (e.g. Sydney), the far side of the world from the D1 primary", 230),
};
