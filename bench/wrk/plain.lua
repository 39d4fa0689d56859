-- One fixed request repeated (discovery, JWKS, client_credentials). Arguments: METHOD [BODY];
-- headers come from wrk's -H. No response() callback, so wrk does not hand bodies to Lua; answers
-- of 4xx/5xx are counted by wrk itself (status_errors).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
function init(args)
  wrk.method = args[1] or "GET"
  if args[2] and args[2] ~= "" then wrk.body = args[2] end
end
