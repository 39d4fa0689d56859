-- The whole authorization-code flow with an existing SSO session, as a pipeline of independent
-- requests: GET authorize (session cookie) -> 302/303 with a code -> POST token -> an access
-- token -> GET userinfo. A connection that is free sends the most advanced pending step first,
-- so codes never wait long. `flows` counts completed userinfo answers.
-- Arguments: AUTHORIZE_PATH TOKEN_PATH USERINFO_PATH BASIC_AUTH COOKIE TOKEN_BODY_TAIL
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local codes, ch, ct = {}, 1, 0
local ats, ah, at = {}, 1, 0
local authorize, token, userinfo, basic, cookie, tail
function init(args)
  flows, bad = 0, 0
  authorize, token, userinfo, basic, cookie, tail = args[1], args[2], args[3], args[4], args[5], args[6]
end
function request()
  local a = ats[ah]
  if a then
    ats[ah] = nil; ah = ah + 1
    return wrk.format("GET", userinfo, { Authorization = "Bearer " .. a })
  end
  local c = codes[ch]
  if c then
    codes[ch] = nil; ch = ch + 1
    return wrk.format("POST", token, { Authorization = basic, ["Content-Type"] = "application/x-www-form-urlencoded" },
      "grant_type=authorization_code&code=" .. c .. tail)
  end
  return wrk.format("GET", authorize, { Cookie = cookie })
end
function response(status, headers, body)
  local loc = headers["Location"] or headers["location"]
  if loc then
    local c = loc:match("[?&]code=([^&]+)")
    if c then ct = ct + 1; codes[ct] = c else bad = bad + 1 end
    return
  end
  if status == 200 then
    local a = body:match('"access_token"%s*:%s*"([^"]+)"')
    if a then at = at + 1; ats[at] = a; return end
    if body:find('"sub"', 1, true) then flows = flows + 1; return end
  end
  bad = bad + 1
end
