#!/usr/bin/env bash
# `npm run mutate [-- STRYKER_OPTIONS]`: mutation testing of the decision logic (stryker.config.mjs, docs/mutation.md).
# Example, one file while working on its tests: `npm run mutate -- --mutate src/body.ts`.
#
# StrykerJS (pinned in tools/stryker/package-lock.json; kept out of the root package: it declares Node >= 22) is
# installed there on first use from that lockfile, and runs on the image's Node (scripts/image-node.sh: 24, where npm
# finds the engines it asks for). Reports and the incremental file go to reports/mutation/ (ignored).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/tools/stryker"
cd "$root"
stamp="$dir/node_modules/.installed-from-lock"
lock_hash=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$lock_hash" ] || [ ! -x "$dir/node_modules/.bin/stryker" ]; then
  # No package in that lockfile has an install script (none is marked hasInstallScript); --ignore-scripts keeps it so.
  scripts/image-node.sh npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" > "$stamp"
fi
exec scripts/image-node.sh "$dir/node_modules/.bin/stryker" run stryker.config.mjs "$@"
