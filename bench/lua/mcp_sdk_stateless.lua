-- The MCP TypeScript SDK's stateless mode (a peer of bench/run.sh --peers): tools/call
-- search_books with no session and no initialize. SDK 1.32 speaks 2025-11-25, not 2026-07-28,
-- so this is the nearest to bench/lua/mcp_stateless.lua it can answer.
function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_MCP_TOKEN")
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
  wrk.body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_books",'
    .. '"arguments":{"query":"' .. (os.getenv("BENCH_QUERY") or "darkness") .. '","limit":10}}}'
end
