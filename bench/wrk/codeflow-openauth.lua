-- OpenAuth's authorization-code flow (bench/peers/openauth.js), as a pipeline of independent
-- requests: GET /authorize (no session: OpenAuth has none) -> 302 to the provider's page with the
-- authorization state in an encrypted cookie -> GET /auto/authorize with that cookie -> 302 with a
-- code -> POST /token (a public client: client_id and code_verifier in the form, no secret) -> an
-- access token (ES256 JWT) -> GET /me with it (the resource's verify()). A connection that is free
-- sends the most advanced pending step first. `flows` counts completed /me answers.
-- Arguments: AUTHORIZE_PATH TOKEN_PATH PROTECTED_PATH TOKEN_BODY_TAIL
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local hops, hh, ht = {}, 1, 0
local codes, ch, ct = {}, 1, 0
local ats, ah, at = {}, 1, 0
local authorize, token, protected, tail
function init(args)
  flows, bad = 0, 0
  authorize, token, protected, tail = args[1], args[2], args[3], args[4]
end
function request()
  local a = ats[ah]
  if a then
    ats[ah] = nil; ah = ah + 1
    return wrk.format("GET", protected, { Authorization = "Bearer " .. a })
  end
  local c = codes[ch]
  if c then
    codes[ch] = nil; ch = ch + 1
    return wrk.format("POST", token, { ["Content-Type"] = "application/x-www-form-urlencoded" },
      "grant_type=authorization_code&code=" .. c .. tail)
  end
  local h = hops[hh]
  if h then
    hops[hh] = nil; hh = hh + 1
    return wrk.format("GET", h.path, { Cookie = h.cookie })
  end
  return wrk.format("GET", authorize)
end
function response(status, headers, body)
  local loc = headers["Location"] or headers["location"]
  if loc then
    local c = loc:match("[?&]code=([^&]+)")
    if c then ct = ct + 1; codes[ct] = c; return end
    local cookie = headers["Set-Cookie"] or headers["set-cookie"]
    local pair = cookie and cookie:match("^([^;]+)")
    if pair and loc:sub(1, 1) == "/" then ht = ht + 1; hops[ht] = { path = loc, cookie = pair }; return end
    bad = bad + 1
    return
  end
  if status == 200 then
    local a = body:match('"access_token"%s*:%s*"([^"]+)"')
    if a then at = at + 1; ats[at] = a; return end
    if body:find('"sub"', 1, true) then flows = flows + 1; return end
  end
  bad = bad + 1
end
