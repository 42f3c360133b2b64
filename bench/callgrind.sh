#!/usr/bin/env bash
# Instructions the server executes per request of one scenario, counted by valgrind's callgrind.
# Unlike requests/s, the count hardly moves from run to run on a shared machine, so it shows
# whether a change helped. It also leaves a profile to read with callgrind_annotate.
#
#   bench/callgrind.sh                                   GET /api/books?limit=20
#   bench/callgrind.sh mcp.lua /mcp                      any script of bench/lua and its path
#   bench/callgrind.sh refresh.lua /oauth/token
#   BENCH_BIN=/tmp/before/panicless bench/callgrind.sh refresh.lua /oauth/token
#
# Needs valgrind and wrk (Debian packages) and a release build (bench/run.sh makes one). The
# server is seeded as in bench/run.sh, warmed for 3 s, then measured for 10 s at 4 connections
# (callgrind runs the server about 50 times slower).
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPT="${1:-get.lua}"
TARGET_PATH="${2:-/api/books?limit=20}"
PORT="${BENCH_PORT:-18081}"
BASE="http://127.0.0.1:$PORT"
EMAIL=reader@bench.example
PASSWORD="bench password $RANDOM$RANDOM"
WORK="$(mktemp -d /tmp/panicless-callgrind.XXXXXX)"
# BENCH_BIN: a binary built elsewhere (a "before"), as in bench/run.sh.
BIN="${BENCH_BIN:-$PWD/target/release/panicless}"
[ -x "$BIN" ] || cargo build --release --locked >&2

export DATABASE_URL="sqlite://$WORK/bench.db" PUBLIC_URL="$BASE" SERVER_HOST=127.0.0.1 \
  SERVER_PORT="$PORT" RUST_LOG=error BCRYPT_COST=4 SERVER_WORKERS=1 \
  RATE_LIMIT_LOGIN_PER_MINUTE=100000 RATE_LIMIT_TOKEN_PER_MINUTE=10000000 \
  RATE_LIMIT_REGISTER_PER_MINUTE=100000
echo "$PASSWORD" | "$BIN" seed --email "$EMAIL" --books 10000 --readings 50000 --users 100 >&2

valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$BIN" serve \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; echo "profile kept in $WORK" >&2' EXIT
for _ in $(seq 1 600); do curl -fs "$BASE/health" >/dev/null && break; sleep 0.2; done

python3 bench/bench.py mint --base "$BASE" --email "$EMAIL" --password "$PASSWORD" \
  --refresh 64 --out "$WORK/tokens.json" --refresh-file "$WORK/refresh.txt" >&2
eval "$(python3 bench/bench.py env --tokens "$WORK/tokens.json" --refresh-file "$WORK/refresh.txt")"
cat "bench/lua/$SCRIPT" bench/lua/report.lua >"$WORK/script.lua"

wrk -t1 -c4 -d3s --timeout 10s -s "$WORK/script.lua" "$BASE$TARGET_PATH" >/dev/null
callgrind_control -z "$SERVER_PID" >/dev/null 2>&1
wrk -t1 -c4 -d10s --timeout 10s -s "$WORK/script.lua" "$BASE$TARGET_PATH" >"$WORK/wrk.out"
callgrind_control -d "$SERVER_PID" >/dev/null 2>&1
sleep 1
# The dump after zeroing is the first numbered file.
PROFILE="$WORK/callgrind.out.1"
python3 - "$WORK/wrk.out" "$PROFILE" "$SCRIPT $TARGET_PATH" <<'EOF'
import json, re, subprocess, sys
wrk, profile, scenario = sys.argv[1:]
figures = json.loads(re.search(r"^BENCH_JSON (.*)$", open(wrk).read(), re.M).group(1))
totals = subprocess.run(["callgrind_annotate", profile], capture_output=True, text=True).stdout
instructions = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", totals).group(1).replace(",", ""))
print(f"{scenario}: {figures['requests']} requests, {figures['errors']} errors, "
      f"{instructions / max(figures['requests'], 1):,.0f} instructions a request")
print(f"profile: callgrind_annotate --inclusive=yes {profile} | less")
EOF
