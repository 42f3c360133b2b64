-- GET the URL given to wrk as a signed-in browser: the session cookie in BENCH_COOKIE.
function init(args)
  wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
  wrk.headers["Accept"] = "text/html"
end
