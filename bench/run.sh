#!/usr/bin/env bash
# The load benchmark of issue 8. Builds the release binary, starts it on a fresh database, seeds
# a realistic library, mints tokens through the real OAuth flow and drives each scenario with
# wrk. Prints one table and writes the same as JSON under bench/results/.
#
#   bench/run.sh                 SQLite (a fresh file)
#   bench/run.sh --postgres      PostgreSQL: a fresh schema in $BENCH_POSTGRES_URL
#                                (default postgres://postgres@127.0.0.1:5432/test)
#   DURATION=10 CONNECTIONS=64 bench/run.sh
#   BENCH_BIN=/path/to/panicless BENCH_OUT=/tmp/before.json bench/run.sh
#                                a binary built elsewhere (a "before"), its JSON written elsewhere
#   BENCH_ONLY='^GET /books' bench/run.sh
#                                only the wrk scenarios whose names match the regex (the pages
#                                of the library, here); the other measurements are left out
#   bench/run.sh --peers         ours against oidc-provider and the MCP TypeScript SDK, side by
#                                side in rounds (bench/peers.sh; ROUNDS=3, DURATION=10,
#                                CONNECTIONS=32 unless set), SQLite
#
# On a machine with two cores or more, wrk runs on core 0 and the server on core 1 (taskset),
# so neither steals the other's time. This is a benchmark, not a test: nothing here fails a build.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=sqlite
PEERS=""
for arg in "$@"; do
  case "$arg" in
    --postgres) BACKEND=postgres ;;
    --peers) PEERS=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
DURATION="${DURATION:-10}"
if [ -n "$PEERS" ]; then
  # As the issue measured the peers: wrk -t1 -c32, rounds of 10 s.
  CONNECTIONS="${CONNECTIONS:-32}"
  ROUNDS="${ROUNDS:-3}"
else
  CONNECTIONS="${CONNECTIONS:-64}"
fi
PORT="${BENCH_PORT:-18080}"
BASE="http://127.0.0.1:$PORT"
EMAIL=reader@bench.example
PASSWORD="bench password $RANDOM$RANDOM"
WORK="$(mktemp -d /tmp/panicless-bench.XXXXXX)"
RESULTS_DIR=bench/results
mkdir -p "$RESULTS_DIR"

say() { printf '\n== %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
fi
SERVER_CPU=() LOAD_CPU=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  SERVER_CPU=(taskset -c 1) LOAD_CPU=(taskset -c 0)
fi

if [ -n "${BENCH_BIN:-}" ]; then
  # A binary built elsewhere, such as an older commit's for a "before"; the database is
  # fresh either way, migrated by that binary.
  BIN="$BENCH_BIN"
else
  say "building the release binary"
  cargo build --release --locked >&2
  BIN="$PWD/target/release/panicless"
fi

PG_SCHEMA=""
if [ "$BACKEND" = postgres ]; then
  PG_BASE="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
  PG_SCHEMA="bench_$(date +%s)"
  psql "$PG_BASE" -qc "CREATE SCHEMA $PG_SCHEMA"
  sep='?'; case "$PG_BASE" in *\?*) sep='&';; esac
  export DATABASE_URL="${PG_BASE}${sep}options=-csearch_path%3D${PG_SCHEMA}"
else
  export DATABASE_URL="sqlite://$WORK/bench.db"
fi
# Rate limits would measure themselves, not the server: lift them for the run.
export PUBLIC_URL="$BASE" SERVER_HOST=127.0.0.1 SERVER_PORT="$PORT" RUST_LOG=error \
  BCRYPT_COST=12 RATE_LIMIT_LOGIN_PER_MINUTE=100000 RATE_LIMIT_TOKEN_PER_MINUTE=10000000 \
  RATE_LIMIT_REGISTER_PER_MINUTE=100000 SERVER_WORKERS="${SERVER_WORKERS:-1}"

SERVER_PID=""
PEER_PIDS=()
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  for pid in "${PEER_PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  if [ -n "$PG_SCHEMA" ]; then psql "$PG_BASE" -qc "DROP SCHEMA $PG_SCHEMA CASCADE" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

say "seeding: 10,000 books and 50,000 readings for one reader, 100 other users"
seed_started=$(date +%s%N)
echo "$PASSWORD" | "$BIN" seed --email "$EMAIL" --books 10000 --readings 50000 --users 100 >&2
seed_seconds=$(python3 -c "print(($(date +%s%N) - $seed_started) / 1e9)")

say "starting the server (${SERVER_CPU[*]:-no pinning})"
"${SERVER_CPU[@]}" "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "$BASE/health" >/dev/null && break
  sleep 0.1
done
curl -fs "$BASE/health" >/dev/null || { cat "$WORK/server.log"; exit 1; }

rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
TICKS_PER_SECOND=$(getconf CLK_TCK)
sleep 1
RSS_IDLE=$(rss_mb)

say "minting tokens through the OAuth flow"
# Each refresh run spends its own pool: twice the connections, and with --peers one pool a
# round and one token for the check by hand (the file holds one fewer than asked for).
REFRESH_COUNT=$((CONNECTIONS * 2))
[ -n "$PEERS" ] && REFRESH_COUNT=$((ROUNDS * CONNECTIONS * 2 + 2))
python3 bench/bench.py mint --base "$BASE" --email "$EMAIL" --password "$PASSWORD" \
  --refresh "$REFRESH_COUNT" --out "$WORK/tokens.json" --refresh-file "$WORK/refresh.txt"
eval "$(python3 bench/bench.py env --tokens "$WORK/tokens.json" --refresh-file "$WORK/refresh.txt")"

if [ -n "$PEERS" ]; then
  # shellcheck source=bench/peers.sh
  . bench/peers.sh
  exit 0
fi

SCENARIOS="$WORK/scenarios.jsonl"
: >"$SCENARIOS"
# Whether a scenario runs: every one, or those BENCH_ONLY matches.
wanted() { [ -z "${BENCH_ONLY:-}" ] || [[ "$1" =~ $BENCH_ONLY ]]; }
everything() { [ -z "${BENCH_ONLY:-}" ]; }
# run NAME TARGET SCRIPT PATH: one wrk run; records its figures and the peak RSS during it.
run() {
  local name="$1" target="$2" script="$3" path="$4"
  wanted "$name" || return 0
  cat "bench/lua/$script" bench/lua/report.lua >"$WORK/script.lua"
  local peak_file="$WORK/peak"
  echo 0 >"$peak_file"
  ( while kill -0 "$SERVER_PID" 2>/dev/null; do
      now=$(rss_mb); awk -v a="$now" -v b="$(cat "$peak_file")" 'BEGIN { exit !(a > b) }' \
        && echo "$now" >"$peak_file.new" && mv "$peak_file.new" "$peak_file"; sleep 0.2
    done ) &
  local sampler=$!
  say "$name"
  local ticks_before
  ticks_before=$(cpu_ticks)
  "${LOAD_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s -s "$WORK/script.lua" \
    "$BASE$path" | tee "$WORK/wrk.out" >&2
  local cpu_seconds
  cpu_seconds=$(python3 -c "print(($(cpu_ticks) - $ticks_before) / $TICKS_PER_SECOND)")
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  local figures
  figures=$(sed -n 's/^BENCH_JSON //p' "$WORK/wrk.out")
  python3 - "$name" "$target" "$(cat "$peak_file")" "$figures" "$cpu_seconds" >>"$SCENARIOS" <<'EOF'
import json, sys
name, target, rss, figures, cpu = sys.argv[1:]
row = json.loads(figures)
# The server's CPU time per request: steadier than requests/s on a machine whose speed varies.
cpu_us = float(cpu) * 1e6 / row["requests"] if row["requests"] else 0
row.update(name=name, target=target, rss_mb=float(rss), cpu_us_per_request=round(cpu_us))
print(json.dumps(row))
EOF
}

run 'GET /api/books?limit=20' '8,000/s, p99 < 10 ms' get.lua '/api/books?limit=20'
run 'GET /api/books?limit=20&offset=9980 (deep page)' '' get.lua '/api/books?limit=20&offset=9980'
run 'GET /api/books?q=darkness' '' get.lua '/api/books?q=darkness&limit=20'
run 'GET /api/readings/stats (50,000 readings; memoised)' '' get.lua '/api/readings/stats'
if everything; then
say "statistics computed from cold: a new reading before each request"
python3 bench/bench.py stats-cold --base "$BASE" --token "$BENCH_TOKEN" --count 30 \
  >"$WORK/stats-cold.json"
python3 - "$WORK/stats-cold.json" >>"$SCENARIOS" <<'EOF'
import json, sys
row = json.load(open(sys.argv[1]))
row.update(name="GET /api/readings/stats after each new reading (one at a time)",
           target="< 30 ms", rss_mb=0)
print(json.dumps(row))
EOF
fi
run 'POST /mcp tools/call search_books' '4,000/s, p99 < 15 ms' mcp.lua '/mcp'
run 'POST /mcp tools/call search_books, 2026-07-28 stateless' 'as fast as the session' mcp_stateless.lua '/mcp'
run 'POST /oauth/introspect' '8,000/s' introspect.lua '/oauth/introspect'
run 'POST /oauth/token refresh (fresh token each)' '3,000/s' refresh.lua '/oauth/token'

# The library's pages, as a signed-in browser loads them (session cookie): 10,000 books.
run 'GET /books (the library page, 10,000 books)' 'p99 < 20 ms' page.lua '/books'
run 'GET /books?q=darkness (page, search)' 'p99 < 20 ms' page.lua '/books?q=darkness'
run 'GET /books?sort=title (page)' 'p99 < 20 ms' page.lua '/books?sort=title'
run 'GET /books?sort=read (page, by date read)' '' page.lua '/books?sort=read'
run 'GET /books?shelf=read&page=100 (page, deep)' '' page.lua '/books?shelf=read&page=100'

if everything; then
# One core hashes about 3 passwords a second at cost 12: 16 a second is five times more than it
# can, so the queue fills and the rest are answered 503 at once (issue 22).
LOGIN_RATE="${LOGIN_RATE:-16}"
say "API reads while $LOGIN_RATE sign-ins a second are offered (bcrypt cost 12)"
python3 bench/bench.py logins --base "$BASE" --email "$EMAIL" --password "$PASSWORD" \
  --rate "$LOGIN_RATE" --duration "$DURATION" >"$WORK/logins.json" &
LOGINS=$!
run "GET /api/books?limit=20 during $LOGIN_RATE logins/s" 'p99 < 20 ms' get.lua '/api/books?limit=20'
wait "$LOGINS"
python3 - "$WORK/logins.json" "$LOGIN_RATE" >>"$SCENARIOS" <<'EOF'
import json, sys
row = json.load(open(sys.argv[1]))
row.update(name=f"POST /api/auth/login offered at {sys.argv[2]}/s (bcrypt cost 12): "
                f"{row['signed_in']} signed in, {row['busy']} answered 503 + Retry-After "
                f"(p99 {row['busy_p99_ms']:.1f} ms)",
           target="503 at once past ~3 s of queue", rss_mb=0)
print(json.dumps(row))
EOF

say "import of a 3,000-row Goodreads export"
python3 bench/bench.py import --base "$BASE" --token "$BENCH_TOKEN" \
  --imports ../shared/data/imports >"$WORK/import.json" || echo '{"status":0,"seconds":0}' >"$WORK/import.json"
else
echo '{"status":0,"seconds":0}' >"$WORK/import.json"
fi

RSS_END=$(rss_mb)
STAMP=$(date +%Y-%m-%d)
OUT="${BENCH_OUT:-$RESULTS_DIR/$STAMP-$BACKEND.json}"
python3 - "$SCENARIOS" "$WORK/import.json" "$OUT" "$BACKEND" "$RSS_IDLE" "$RSS_END" "$seed_seconds" \
  "$CONNECTIONS" "$DURATION" <<'EOF'
import json, os, platform, sys, time
scenarios, imported, out, backend, idle, end, seed, connections, duration = sys.argv[1:]
rows = [json.loads(line) for line in open(scenarios) if line.strip()]
imp = json.load(open(imported))
results = {
    "date": time.strftime("%Y-%m-%d %H:%M"),
    "backend": backend,
    "machine": f"{os.cpu_count()} cores, {platform.machine()}, wrk -t1 -c{connections} -d{duration}s",
    "rss_idle_mb": float(idle),
    "rss_end_mb": float(end),
    "seed_seconds": float(seed),
    "import": imp,
    "scenarios": rows,
    "notes": [
        f"RSS idle {float(idle):.1f} MB (target < 30 MB); peak per scenario in the table (target < 80 MB); {float(end):.1f} MB at the end",
        f"import of 3,000 Goodreads rows: {imp.get('seconds', 0):.2f} s, HTTP {imp.get('status')} (target < 2 s)",
        f"seeding 10,000 books, 50,000 readings, 100 users: {float(seed):.1f} s",
    ],
}
json.dump(results, open(out, "w"), indent=2)
EOF
python3 bench/bench.py table "$OUT"
echo >&2
echo "written: $OUT" >&2
