-- Shared by the workload scripts: wrk runs one Lua state per thread; setup() collects them so done()
-- can add up the per-thread counters `flows` (completed units of work) and `bad` (unexpected answers).
-- done() prints one machine-readable line that bench/bench.mjs parses.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local flows, bad = 0, 0
  for _, t in ipairs(threads) do
    flows = flows + (t:get("flows") or 0)
    bad = bad + (t:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"status_errors":%d,"socket_errors":%d,"flows":%d,"bad":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    e.status, e.connect + e.read + e.write + e.timeout, flows, bad))
end
