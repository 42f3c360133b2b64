-- MCP 2026-07-28 tools/call search_books, stateless as Claude.ai sends it: no session, the
-- version and capabilities in _meta, the routing headers beside them.
function init(args)
  local query = os.getenv("BENCH_QUERY") or "darkness"
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_MCP_TOKEN")
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
  wrk.headers["Mcp-Method"] = "tools/call"
  wrk.headers["Mcp-Name"] = "search_books"
  wrk.body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_books",'
    .. '"arguments":{"query":"' .. query .. '","limit":10},'
    .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
    .. '"io.modelcontextprotocol/clientCapabilities":{}}}}'
end
