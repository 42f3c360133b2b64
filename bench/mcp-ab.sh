#!/usr/bin/env bash
# Interleaved A/B on one seeded server: MCP tools/call search_books in a 2025-11-25 session
# (bench/lua/mcp.lua) against the 2026-07-28 stateless call (bench/lua/mcp_stateless.lua),
# three rounds, with the server CPU per request. A benchmark, not a test.
#   bench/mcp-ab.sh            (BENCH_BIN=path to measure another build; D=seconds per run)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-target/release/panicless}
PORT=18090; BASE=http://127.0.0.1:$PORT; WORK=$(mktemp -d)
EMAIL=ab@bench.example; PASSWORD="ab password 12345"
export DATABASE_URL="sqlite://$WORK/ab.db" PUBLIC_URL="$BASE" SERVER_HOST=127.0.0.1 SERVER_PORT=$PORT RUST_LOG=error \
  BCRYPT_COST=4 RATE_LIMIT_LOGIN_PER_MINUTE=100000 RATE_LIMIT_TOKEN_PER_MINUTE=10000000 RATE_LIMIT_REGISTER_PER_MINUTE=100000 SERVER_WORKERS=1
echo "$PASSWORD" | "$BIN" seed --email "$EMAIL" --books 10000 --readings 50000 --users 10 >/dev/null 2>&1
taskset -c 1 "$BIN" serve >"$WORK/server.log" 2>&1 & PID=$!
trap 'kill $PID; rm -rf $WORK' EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/health" >/dev/null && break; sleep 0.1; done
python3 bench/bench.py mint --base "$BASE" --email "$EMAIL" --password "$PASSWORD" --refresh 1 --out "$WORK/t.json" --refresh-file "$WORK/r.txt"
eval "$(python3 bench/bench.py env --tokens "$WORK/t.json" --refresh-file "$WORK/r.txt")"
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
TPS=$(getconf CLK_TCK)
for round in 1 2 3; do
  for s in mcp mcp_stateless; do
    cat bench/lua/$s.lua bench/lua/report.lua > "$WORK/s.lua"
    t0=$(ticks)
    out=$(taskset -c 0 wrk -t1 -c32 -d${D:-6}s -s "$WORK/s.lua" "$BASE/mcp" | sed -n 's/^BENCH_JSON //p')
    t1=$(ticks)
    python3 -c "import json,sys; r=json.loads(sys.argv[1]); cpu=(int(sys.argv[3])-int(sys.argv[2]))/int(sys.argv[5])*1e6/r['requests']; print(f\"round $round {sys.argv[4]:14s} {r['rps']:9.0f}/s p99 {r['p99_ms']:5.1f} ms errors {r['errors']} cpu {cpu:4.0f} us/req\")" "$out" $t0 $t1 $s $TPS
  done
done
