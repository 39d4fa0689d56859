-- The refresh grant with rotation: every answer carries a new refresh token, which goes back to a
-- queue and is used by a later request (so each token is used exactly once). Arguments: a file of
-- seed refresh tokens (one a line, at least as many as connections). Authorization and Content-Type
-- come from -H.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local q, head, tail = {}, 1, 0
function init(args)
  flows, bad = 0, 0
  for line in io.lines(args[1]) do
    if line ~= "" then tail = tail + 1; q[tail] = line end
  end
end
function request()
  local t = q[head]
  if t then q[head] = nil; head = head + 1 else t = "queue-ran-dry" end
  return wrk.format("POST", nil, nil, "grant_type=refresh_token&refresh_token=" .. t)
end
function response(status, headers, body)
  local t = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if t then tail = tail + 1; q[tail] = t; flows = flows + 1 else bad = bad + 1 end
end
