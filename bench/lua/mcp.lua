-- MCP tools/call search_books in an initialized 2025-11-25 session (the session row is read too).
function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_MCP_TOKEN")
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["Mcp-Session-Id"] = os.getenv("BENCH_MCP_SESSION")
  wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
  wrk.body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_books",'
    .. '"arguments":{"query":"' .. (os.getenv("BENCH_QUERY") or "darkness") .. '","limit":10}}}'
end
