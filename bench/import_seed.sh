#!/usr/bin/env bash
# Times the bulk writes of bench/run.sh without a server: `panicless seed` of the benchmark
# library (10,000 books, 50,000 readings, 100 other users), then `panicless import` of the
# 3,000-row Goodreads export into it (the file bench.py builds from the real exports), then the
# same file again (every row found: merged or unchanged). Prints the three times.
#
#   bench/import_seed.sh               SQLite (a fresh file)
#   bench/import_seed.sh --postgres    PostgreSQL: a fresh schema in $BENCH_POSTGRES_URL
#   BENCH_BIN=/path/to/panicless bench/import_seed.sh    a binary built elsewhere (a "before")
#   BENCH_IMPORTS=/path/to/imports     where the real exports are (../shared/data/imports)
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=sqlite
[ "${1:-}" = "--postgres" ] && BACKEND=postgres
IMPORTS="${BENCH_IMPORTS:-../shared/data/imports}"
EMAIL=reader@bench.example
WORK="$(mktemp -d /tmp/panicless-import-seed.XXXXXX)"

if [ -n "${BENCH_BIN:-}" ]; then
  BIN="$BENCH_BIN"
else
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
export PUBLIC_URL=http://127.0.0.1:18080 RUST_LOG=warn BCRYPT_COST=12

cleanup() {
  if [ -n "$PG_SCHEMA" ]; then psql "$PG_BASE" -qc "DROP SCHEMA $PG_SCHEMA CASCADE" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 bench/bench.py import-file --imports "$IMPORTS" --out "$WORK/import.csv"
"$BIN" migrate >/dev/null
seconds() { python3 -c "print(f'{($(date +%s%N) - $1) / 1e9:.2f}')"; }

started=$(date +%s%N)
echo "bench password $RANDOM$RANDOM" | "$BIN" seed --email "$EMAIL" --books 10000 --readings 50000 --users 100 >&2
echo "$BACKEND seed (10,000 books, 50,000 readings, 100 users): $(seconds "$started") s"

for pass in first again; do
  started=$(date +%s%N)
  "$BIN" import --user "$EMAIL" "$WORK/import.csv" | sed -n 1p >&2
  echo "$BACKEND import of 3,000 Goodreads rows ($pass): $(seconds "$started") s"
done
