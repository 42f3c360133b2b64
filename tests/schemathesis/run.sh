#!/usr/bin/env bash
# A bounded schemathesis run (all checks) against the debug server binary that `cargo test`
# built: a fresh SQLite database on a free loopback port, a registered user's Bearer token, and
# the hooks in hooks.py for the few rules JSON Schema cannot state. Fails on any failure.
# One worker: hypothesis describes strategies with ast.parse, which CPython 3.11 does not allow
# from two threads at once ("AST constructor recursion depth mismatch").
# The connector proxy (/api/connectors/{id}/proxy/...) is left out: it forwards to an AI
# provider's API, which this run has none of. So is POST /api/auth/logout: it revokes the
# token it is called with, the run's one token, and every later call would be a 401 (a hook
# giving it a token of its own did not take: the run's --header wins). tests/it/accounts.rs
# covers it.
#
#   tests/schemathesis/run.sh [MAX_EXAMPLES] [MAX_SECONDS]     (defaults 40 and 150)
#
# The seed is fixed (ST_SEED, default 1) so that a CI failure can be replayed; set another to
# explore further. Every check runs, the two acceptance checks included (ST201 schema-invalid
# request accepted, ST202 schema-valid request refused); ST_EXCLUDE_CHECKS=check,... leaves some
# out while investigating. SCHEMATHESIS_VENV chooses the virtual environment (default
# target/st-venv), created and filled with the pinned schemathesis when needed. ST_TRACE=FILE
# has hooks.py log every call
# (method, path, status, body), to follow a stateful failure. The JUnit report goes to
# target/schemathesis-report/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
max_examples="${1:-40}"
max_seconds="${2:-150}"

server="$root/target/debug/panicless"
if [ ! -x "$server" ]; then
  echo "no $server: run cargo build (or cargo test) first" >&2
  exit 1
fi

venv="${SCHEMATHESIS_VENV:-target/st-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# From the temporary directory, so that no .env of the checkout is read. Low bcrypt cost and
# generous limits: the run registers many accounts and must not be slowed or throttled into
# testing nothing.
(
  cd "$work"
  exec env APP_ENV=development SERVER_HOST=127.0.0.1 SERVER_PORT="$port" SERVER_WORKERS=2 \
    DATABASE_URL="sqlite://$work/schemathesis.db" BCRYPT_COST=4 \
    RATE_LIMIT_LOGIN_PER_MINUTE=100000 RATE_LIMIT_REGISTER_PER_MINUTE=100000 \
    RATE_LIMIT_SIGNUP_PER_MINUTE=100000 \
    RATE_LIMIT_TOKEN_PER_MINUTE=100000 RUST_LOG=warn "$server" >"$work/server.log" 2>&1
) &
pid=$!

for _ in $(seq 1 100); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

account='{"email":"schemathesis@example.org","password":"schemathesis password"}'
curl -fsS -X POST -H 'Content-Type: application/json' -d "$account" "$base/api/auth/register" >/dev/null
token="$(curl -fsS -X POST -H 'Content-Type: application/json' -d "$account" "$base/api/auth/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"

exclude="${ST_EXCLUDE_CHECKS:-}"
exclude_checks=()
[ -n "$exclude" ] && exclude_checks=(--exclude-checks "$exclude")
status=0
ST_BASE_URL="$base" ST_TOKEN="$token" SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$root/tests/schemathesis" \
  "$venv/bin/schemathesis" run "$base/openapi.json" \
  --checks all \
  "${exclude_checks[@]}" \
  --header "Authorization: Bearer $token" \
  --max-examples "$max_examples" \
  --seed "${ST_SEED:-1}" \
  --max-time "$max_seconds" \
  --request-timeout 20 \
  --workers 1 \
  --exclude-path-regex '/proxy/' \
  --exclude-path /api/auth/logout \
  --report junit --report-dir "$root/target/schemathesis-report" \
  --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "== server log (last 50 lines)" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
