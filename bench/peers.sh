# Sourced by bench/run.sh --peers, once our server is seeded, started and its tokens minted.
# Starts the peers of ../shared/bench-peers (oidc-provider, the MCP TypeScript SDK in session
# and stateless modes) pinned to the server's core like ours, mints their tokens through real
# flows, checks one request of every scenario by hand on both sides, then runs the scenarios
# interleaved, ours then the peer, for ROUNDS rounds. Prints one table (ours / peer) and writes
# it as JSON to bench/results/DATE-peers.json.
#
# The machine's speed drifts by a third within half an hour: only the ratios of one invocation
# mean anything, never rates across invocations.

PEERS_SRC="${BENCH_PEERS_SRC:-}"
if [ -z "$PEERS_SRC" ]; then
  for candidate in ../shared/bench-peers ../../shared/bench-peers /work/shared/bench-peers; do
    [ -f "$candidate/oidc-peer.mjs" ] && PEERS_SRC="$candidate" && break
  done
fi
[ -n "$PEERS_SRC" ] || { echo "no bench-peers folder: set BENCH_PEERS_SRC" >&2; exit 1; }
command -v node >/dev/null || { echo "--peers needs Node.js 20 or later" >&2; exit 1; }

# The peers' folder may be read-only: install its pinned packages in a copy.
PEERS_DIR="$PWD/target/bench-peers"
say "installing the peers in $PEERS_DIR (npm ci of the pinned versions)"
mkdir -p "$PEERS_DIR"
for file in "$PEERS_SRC"/*; do
  [ -f "$file" ] && install -m 0644 "$file" "$PEERS_DIR/"
done
chmod +x "$PEERS_DIR/setup.sh"
(cd "$PEERS_DIR" && ./setup.sh) >&2

OIDC_PORT="${BENCH_OIDC_PORT:-18110}"
MCP_SESSION_PORT="${BENCH_MCP_SESSION_PORT:-18111}"
MCP_STATELESS_PORT="${BENCH_MCP_STATELESS_PORT:-18112}"
OIDC="http://127.0.0.1:$OIDC_PORT"
MCP_SESSION="http://127.0.0.1:$MCP_SESSION_PORT"
MCP_STATELESS="http://127.0.0.1:$MCP_STATELESS_PORT"

# start_peer LOG COMMAND...: starts a peer pinned like our server; waits for its "ready" line.
start_peer() {
  local log="$1"
  shift
  "${SERVER_CPU[@]}" "$@" >"$log" 2>&1 &
  LAST_PEER=$!
  PEER_PIDS+=("$LAST_PEER")
  for _ in $(seq 1 100); do
    grep -q '^ready' "$log" && return 0
    sleep 0.1
  done
  cat "$log" >&2
  exit 1
}

say "starting oidc-provider (${SERVER_CPU[*]:-no pinning})"
start_peer "$WORK/oidc.log" env PORT="$OIDC_PORT" node "$PEERS_DIR/oidc-peer.mjs"
OIDC_PID=$LAST_PEER

say "minting oidc-provider's tokens through its code + PKCE flow (public client, like ours)"
node "$PEERS_DIR/oidc-mint.mjs" "$OIDC" "$((ROUNDS * CONNECTIONS * 2 + 1))" \
  "$WORK/peer-refresh.txt" "$WORK/peer-access.txt" public >&2
PEER_TOKEN=$(head -1 "$WORK/peer-access.txt")

# The MCP peers accept oidc-provider's access token as their one bearer.
say "starting the MCP TypeScript SDK, session and stateless"
start_peer "$WORK/mcp-session.log" env PORT="$MCP_SESSION_PORT" BENCH_BEARER="$PEER_TOKEN" \
  MCP_MODE=session MCP_JSON=1 node "$PEERS_DIR/ts-mcp-peer.mjs"
MCP_SESSION_PID=$LAST_PEER
start_peer "$WORK/mcp-stateless.log" env PORT="$MCP_STATELESS_PORT" BENCH_BEARER="$PEER_TOKEN" \
  MCP_MODE=stateless MCP_JSON=1 node "$PEERS_DIR/ts-mcp-peer.mjs"
MCP_STATELESS_PID=$LAST_PEER

MCP_HEADERS=(-H "Authorization: Bearer $PEER_TOKEN" -H 'Content-Type: application/json'
  -H 'Accept: application/json, text/event-stream')
PEER_SESSION=$(curl -fsS -D - -o /dev/null "${MCP_HEADERS[@]}" "$MCP_SESSION/mcp" \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"panicless-bench","version":"1"}}}' \
  | tr -d '\r' | awk 'tolower($1) == "mcp-session-id:" { print $2 }')
[ -n "$PEER_SESSION" ] || { echo "the SDK peer gave no session" >&2; exit 1; }
curl -fsS -o /dev/null "${MCP_HEADERS[@]}" -H "Mcp-Session-Id: $PEER_SESSION" \
  -H 'MCP-Protocol-Version: 2025-11-25' "$MCP_SESSION/mcp" \
  -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'

# Each round spends a pool of refresh tokens of its own, on each side; the first token of each
# list is kept for the check by hand.
split_pool() {
  local all="$1" prefix="$2" per=$((CONNECTIONS * 2))
  head -1 "$all" >"$prefix-check.txt"
  for round in $(seq 1 "$ROUNDS"); do
    sed -n "$((2 + (round - 1) * per)),$((1 + round * per))p" "$all" >"$prefix-$round.txt"
  done
}
split_pool "$WORK/refresh.txt" "$WORK/ours-refresh"
split_pool "$WORK/peer-refresh.txt" "$WORK/peer-refresh"

QUERY=history
MCP_CALL="{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"search_books\",\"arguments\":{\"query\":\"$QUERY\",\"limit\":10}}}"
MCP_STATELESS_CALL="{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"search_books\",\"arguments\":{\"query\":\"$QUERY\",\"limit\":10},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}"

# check NAME PATTERN CURL-ARGS...: one request by hand; it must answer 2xx with PATTERN in it.
check() {
  local name="$1" pattern="$2"
  shift 2
  local status
  status=$(curl -sS -o "$WORK/check.out" -w '%{http_code}' "$@")
  if [[ "$status" != 2* ]] || ! grep -q -- "$pattern" "$WORK/check.out"; then
    echo "check failed: $name: HTTP $status: $(head -c 300 "$WORK/check.out")" >&2
    exit 1
  fi
  echo "check: $name: HTTP $status, $(wc -c <"$WORK/check.out") bytes" >&2
}
say "one request of each scenario by hand, both sides"
check "ours refresh" '"refresh_token"' "$BASE/oauth/token" -d grant_type=refresh_token \
  -d "client_id=$BENCH_CLIENT_ID" -d "refresh_token=$(cat "$WORK/ours-refresh-check.txt")"
check "oidc-provider refresh" '"refresh_token"' "$OIDC/token" -d grant_type=refresh_token \
  -d client_id=bench-public -d "refresh_token=$(cat "$WORK/peer-refresh-check.txt")"
check "ours introspection" '"active":true' "$BASE/oauth/introspect" \
  -d "token=$BENCH_TOKEN" -d "client_id=$BENCH_CLIENT_ID"
check "oidc-provider introspection" '"active":true' "$OIDC/token/introspection" \
  -d "token=$PEER_TOKEN" -d client_id=bench-public
check "ours tools/call, session" '"result"' "$BASE/mcp" \
  -H "Authorization: Bearer $BENCH_MCP_TOKEN" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $BENCH_MCP_SESSION" \
  -H 'MCP-Protocol-Version: 2025-11-25' -d "$MCP_CALL"
check "SDK tools/call, session" '"result"' "$MCP_SESSION/mcp" "${MCP_HEADERS[@]}" \
  -H "Mcp-Session-Id: $PEER_SESSION" -H 'MCP-Protocol-Version: 2025-11-25' -d "$MCP_CALL"
check "ours tools/call, 2026-07-28 stateless" '"result"' "$BASE/mcp" \
  -H "Authorization: Bearer $BENCH_MCP_TOKEN" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \
  -H 'Mcp-Method: tools/call' -H 'Mcp-Name: search_books' -d "$MCP_STATELESS_CALL"
check "SDK tools/call, stateless" '"result"' "$MCP_STATELESS/mcp" "${MCP_HEADERS[@]}" \
  -H 'MCP-Protocol-Version: 2025-11-25' -d "$MCP_CALL"
check "ours GET /api/books?q=$QUERY" '"title"' -H "Authorization: Bearer $BENCH_TOKEN" \
  "$BASE/api/books?q=$QUERY&limit=10"
check "Express + SDK bearer GET /api/books?q=$QUERY" '"title"' \
  -H "Authorization: Bearer $PEER_TOKEN" "$MCP_STATELESS/api/books?q=$QUERY&limit=10"

RUNS="$WORK/peer-runs.jsonl"
: >"$RUNS"
# measure SCENARIO SIDE PEER_NAME PID SCRIPT URL: one wrk run against one server, with that
# server's CPU time a request and peak RSS; the scenario's settings come in the environment.
measure() {
  local scenario="$1" side="$2" peer_name="$3" pid="$4" script="$5" url="$6"
  cat "bench/lua/$script" bench/lua/report.lua >"$WORK/script.lua"
  local peak_file="$WORK/peak"
  echo 0 >"$peak_file"
  ( while kill -0 "$pid" 2>/dev/null; do
      now=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
      # Written aside and renamed: the sampler may be killed mid-write, and the reader must
      # never find the file empty.
      awk -v a="$now" -v b="$(cat "$peak_file")" 'BEGIN { exit !(a > b) }' \
        && echo "$now" >"$peak_file.new" && mv "$peak_file.new" "$peak_file"
      sleep 0.2
    done ) &
  local sampler=$!
  say "round $ROUND: $scenario: $side"
  local before after
  before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  "${LOAD_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s -s "$WORK/script.lua" \
    "$url" | tee "$WORK/wrk.out" >&2
  after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  python3 - "$scenario" "$side" "$peer_name" "$ROUND" "$(sed -n 's/^BENCH_JSON //p' "$WORK/wrk.out")" \
    "$before" "$after" "$TICKS_PER_SECOND" "$(cat "$peak_file")" >>"$RUNS" <<'EOF'
import json, sys
scenario, side, peer_name, rnd, figures, before, after, ticks, rss = sys.argv[1:]
row = json.loads(figures)
cpu = (float(after) - float(before)) / float(ticks)
row.update(scenario=scenario, side=side, peer_name=peer_name, round=int(rnd), rss_mb=float(rss or 0),
           cpu_us_per_request=round(cpu * 1e6 / row["requests"]) if row["requests"] else 0)
print(json.dumps(row))
EOF
}

REFRESH_NAME='POST /oauth/token refresh, rotation and reuse detection'
INTROSPECT_NAME='POST introspection (RFC 7662)'
MCP_NAME="POST /mcp tools/call search_books \"$QUERY\", session"
STATELESS_NAME="POST /mcp tools/call search_books \"$QUERY\", stateless"
BOOKS_NAME="GET /api/books?q=$QUERY&limit=10"
for ROUND in $(seq 1 "$ROUNDS"); do
  BENCH_REFRESH_FILE="$WORK/ours-refresh-$ROUND.txt" \
    measure "$REFRESH_NAME" ours "" "$SERVER_PID" refresh.lua "$BASE/oauth/token"
  BENCH_REFRESH_FILE="$WORK/peer-refresh-$ROUND.txt" BENCH_CLIENT_ID=bench-public \
    measure "$REFRESH_NAME" peer "oidc-provider 9.13" "$OIDC_PID" refresh.lua "$OIDC/token"

  measure "$INTROSPECT_NAME" ours "" "$SERVER_PID" introspect.lua "$BASE/oauth/introspect"
  BENCH_TOKEN="$PEER_TOKEN" BENCH_CLIENT_ID=bench-public \
    measure "$INTROSPECT_NAME" peer "oidc-provider 9.13" "$OIDC_PID" introspect.lua \
    "$OIDC/token/introspection"

  BENCH_QUERY=$QUERY measure "$MCP_NAME" ours "" "$SERVER_PID" mcp.lua "$BASE/mcp"
  BENCH_QUERY=$QUERY BENCH_MCP_TOKEN="$PEER_TOKEN" BENCH_MCP_SESSION="$PEER_SESSION" \
    measure "$MCP_NAME" peer "MCP TS SDK 1.32, session" "$MCP_SESSION_PID" mcp.lua "$MCP_SESSION/mcp"

  BENCH_QUERY=$QUERY measure "$STATELESS_NAME" ours "" "$SERVER_PID" mcp_stateless.lua "$BASE/mcp"
  BENCH_QUERY=$QUERY BENCH_MCP_TOKEN="$PEER_TOKEN" \
    measure "$STATELESS_NAME" peer "MCP TS SDK 1.32, stateless" "$MCP_STATELESS_PID" \
    mcp_sdk_stateless.lua "$MCP_STATELESS/mcp"

  measure "$BOOKS_NAME" ours "" "$SERVER_PID" get.lua "$BASE/api/books?q=$QUERY&limit=10"
  BENCH_TOKEN="$PEER_TOKEN" \
    measure "$BOOKS_NAME" peer "Express 5 + SDK requireBearerAuth" "$MCP_STATELESS_PID" get.lua \
    "$MCP_STATELESS/api/books?q=$QUERY&limit=10"
done

STAMP=$(date +%Y-%m-%d)
OUT="${BENCH_OUT:-$RESULTS_DIR/$STAMP-peers.json}"
python3 bench/bench.py peers "$RUNS" --out "$OUT" \
  --settings "wrk -t1 -c$CONNECTIONS -d${DURATION}s, $ROUNDS interleaved rounds, ${SERVER_CPU[*]:-no pinning} for every server"
echo >&2
echo "written: $OUT" >&2
