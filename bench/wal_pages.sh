#!/usr/bin/env bash
# WAL pages a refresh grant (issue 22): bench/callgrind.sh's setup without valgrind, the server under
# strace (pwrite64, with paths), and the 4,096-byte writes to the -wal file and to the database
# counted over 5 s of wrk at 4 connections. Needs strace, wrk and a release build.
#   bench/wal_pages.sh
#   BENCH_BIN=/tmp/before/panicless bench/wal_pages.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${BENCH_PORT:-18093}"
BASE="http://127.0.0.1:$PORT"
EMAIL=reader@bench.example
PASSWORD="bench password $RANDOM$RANDOM"
WORK="$(mktemp -d /tmp/panicless-wal.XXXXXX)"
BIN="${BENCH_BIN:-$PWD/target/release/panicless}"
export DATABASE_URL="sqlite://$WORK/bench.db" PUBLIC_URL="$BASE" SERVER_HOST=127.0.0.1 \
  SERVER_PORT="$PORT" RUST_LOG=error BCRYPT_COST=4 SERVER_WORKERS=1 \
  RATE_LIMIT_LOGIN_PER_MINUTE=100000 RATE_LIMIT_TOKEN_PER_MINUTE=10000000 \
  RATE_LIMIT_REGISTER_PER_MINUTE=100000
echo "$PASSWORD" | "$BIN" seed --email "$EMAIL" --books 10000 --readings 50000 --users 100 >&2
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do curl -fs "$BASE/health" >/dev/null && break; sleep 0.2; done
python3 bench/bench.py mint --base "$BASE" --email "$EMAIL" --password "$PASSWORD" \
  --refresh 64 --out "$WORK/tokens.json" --refresh-file "$WORK/refresh.txt" >&2
eval "$(python3 bench/bench.py env --tokens "$WORK/tokens.json" --refresh-file "$WORK/refresh.txt")"
cat bench/lua/refresh.lua bench/lua/report.lua >"$WORK/script.lua"
wrk -t1 -c4 -d2s --timeout 10s -s "$WORK/script.lua" "$BASE/oauth/token" >/dev/null
strace -f -y -e trace=pwrite64 -o "$WORK/strace.out" -p "$SERVER_PID" 2>/dev/null &
STRACE_PID=$!
sleep 1
wrk -t1 -c4 -d5s --timeout 10s -s "$WORK/script.lua" "$BASE/oauth/token" >"$WORK/wrk.out"
sleep 0.5
kill -INT "$STRACE_PID"; wait "$STRACE_PID" 2>/dev/null || true
python3 - "$WORK/wrk.out" "$WORK/strace.out" <<'PY'
import json, re, sys
figures = json.loads(re.search(r"^BENCH_JSON (.*)$", open(sys.argv[1]).read(), re.M).group(1))
wal = db = 0
for line in open(sys.argv[2]):
    m = re.search(r'pwrite64\(\d+<([^>]*)>, .*, (\d+), \d+\) = (\d+)', line)
    if not m or m.group(3) != "4096":
        continue
    if m.group(1).endswith("-wal"):
        wal += 1
    elif m.group(1).endswith("bench.db"):
        db += 1
n = max(figures["requests"], 1)
print(f"{figures['requests']} grants, {figures['errors']} errors: {wal/n:.2f} WAL pages a grant, {db/n:.2f} database pages a grant")
PY
