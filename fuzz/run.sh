#!/usr/bin/env bash
# Fuzzes what parses untrusted input (the Goodreads and StoryGraph importers, the ISBN parser,
# the importers' date parsers, and what /mcp reads before anything runs) with libFuzzer through
# cargo-fuzz, SECONDS per target (default 60).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address); on a stable toolchain RUSTC_BOOTSTRAP=1 lets it use them. Findings are
# left in fuzz/artifacts/TARGET/; replay one with `fuzz/run.sh --replay TARGET FILE`. The corpus
# grows in fuzz/corpus/TARGET/ (both git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"

if [ "${1:-}" = "--replay" ]; then
  exec cargo fuzz run "$2" "$3"
fi

seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

cargo fuzz build
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  # Seeds: the importers start from the real exports the tests import (../shared/data), cut
  # to their first 16 KiB, so libFuzzer mutates real headers and rows.
  case "$target" in
    import_goodreads | import_storygraph)
      for file in ../../shared/data/imports/"${target#import_}"-*.csv; do
        [ -e "$file" ] && head -c 16384 "$file" >"corpus/$target/seed-$(basename "$file")"
      done ;;
  esac
  echo "== fuzz $target for ${seconds}s"
  cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048
done
