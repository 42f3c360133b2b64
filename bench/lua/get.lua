-- GET the URL given to wrk with the Bearer token in BENCH_TOKEN.
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end
