#!/bin/sh
# Runs one deployable from the compiled build: `scripts/serve.sh gateway | subgraph <name> | worker | migrate`.
# The npm scripts and the container image both start here; `npm run dev -- <role>` runs the sources with tsx instead.
set -e
cd "$(dirname "$0")/.."
if [ ! -f dist/scripts/serve.js ]; then
  echo "dist/ is missing: run \`npm run build\` first (or \`npm run dev -- $*\` to run the TypeScript sources)" >&2
  exit 1
fi
# A 64 MiB young generation cut the gateway's garbage-collection cost under load (bench/GATEWAYS.md).
if [ "$1" = gateway ]; then set -- --max-semi-space-size=64 dist/scripts/serve.js "$@"; else set -- dist/scripts/serve.js "$@"; fi
exec node "$@"
