#!/usr/bin/env bash
# Runs a command on a supported Node.js line: as it is when the Node.js on
# PATH is 22 or newer, else on Node.js 24 from the npm registry (through
# node-line.sh), so that the README's two commands work on a fresh machine
# whose system Node.js is older.
#
#   bash scripts/supported-node.sh CMD ...     e.g. bash scripts/supported-node.sh node dist/src/demo/main.js
set -euo pipefail
cd "$(dirname "$0")/.."
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -ge 22 ]; then exec "$@"; fi
echo "[minus80] Node.js $(node --version) is older than minus80 supports (22 or newer): running on Node.js 24 from the npm registry" >&2
exec bash scripts/node-line.sh 24 -- "$@"
