-- The refresh grant, each request with a refresh token never used before: the pool starts with
-- tokens minted through the authorization flow, and every answer's new refresh token goes back
-- into it. A token is never sent twice, so rotation and reuse detection stay in force.
local pool = {}
local client_id

function init(args)
  client_id = os.getenv("BENCH_CLIENT_ID")
  for line in io.lines(os.getenv("BENCH_REFRESH_FILE")) do
    if #line > 0 then table.insert(pool, line) end
  end
end

function request()
  local token = table.remove(pool) or "exhausted"
  -- The path of the URL given to wrk: ours is /oauth/token, oidc-provider's /token.
  return wrk.format("POST", wrk.path,
    { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then table.insert(pool, token) end
end
