-- RFC 7662 introspection of an access token by the client it was issued to.
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "token=" .. os.getenv("BENCH_TOKEN") .. "&client_id=" .. os.getenv("BENCH_CLIENT_ID")
end
