#!/usr/bin/env bash
# The whole test suite: unit tests, the CLI, and the cloud contract suite
# against the folder backend, an embedded S3 server and a real Ceph RGW;
# then the server-facing suites again against OpenStack Swift's S3 layer
# (s3api), a server without conditional writes.
#
# Ceph RGW (Debian's radosgw) and awscli are installed with apt-get when this
# runs as root and they are missing; otherwise the Ceph target is reported as
# not run. Set MINUS80_TEST_S3_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY) to test
# another S3 server instead; MINUS80_NO_CEPH=1 skips starting Ceph,
# MINUS80_NO_SWIFT=1 the Swift run.
set -euo pipefail
cd "$(dirname "$0")/.."
# minus80 needs Node.js 22+ (README "Supported Node.js"): on an older system Node.js, run on Node.js 24 from the registry.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  echo "[test-all] Node.js $(node --version) is older than minus80 supports (22 or newer): running on Node.js 24 from the npm registry" >&2
  exec bash scripts/node-line.sh 24 -- bash scripts/test-all.sh
fi
SHARED_TOOLS=${MINUS80_SHARED_TOOLS:-../shared/tools}
CEPH_DIR=${CEPH_S3_DIR:-/tmp/minus80-test-ceph}
SWIFT_DIR=${SWIFT_S3_DIR:-/tmp/minus80-test-swift}
started_ceph=0
started_swift=0

need_pkgs=()
command -v radosgw >/dev/null || need_pkgs+=(ceph-mon ceph-osd ceph-mgr radosgw ceph-common)
command -v aws >/dev/null || need_pkgs+=(awscli)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)   # the catalog page tests drive it with playwright-core
[ -x /usr/bin/swift-proxy-server ] && command -v memcached >/dev/null || need_pkgs+=(swift swift-proxy swift-account swift-container swift-object memcached)
if [ "${#need_pkgs[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[test-all] installing Debian packages: ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ -z "${MINUS80_TEST_S3_ENDPOINT:-}" ] && [ "${MINUS80_NO_CEPH:-0}" != 1 ]; then
  if command -v radosgw >/dev/null && [ -f "$SHARED_TOOLS/ceph-s3.sh" ]; then
    echo "[test-all] starting Ceph RGW (about 20 s)"
    if out=$(CEPH_S3_DIR=$CEPH_DIR bash "$SHARED_TOOLS/ceph-s3.sh" 2>"$CEPH_DIR.log"); then
      eval "$(echo "$out" | tail -n 3)"
      export MINUS80_TEST_S3_ENDPOINT=$S3_ENDPOINT
      export MINUS80_TEST_S3_ACCESS_KEY=$AWS_ACCESS_KEY_ID
      export MINUS80_TEST_S3_SECRET_KEY=$AWS_SECRET_ACCESS_KEY
      export MINUS80_TEST_S3_NAME="Ceph RGW"
      # the admin tool's config, for the quota and bucket-policy tests (test/cloud/cephRefusals.test.ts)
      export MINUS80_TEST_CEPH_CONF=$CEPH_DIR/ceph.conf
      unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_ENDPOINT
      started_ceph=1
    else
      echo "[test-all] Ceph RGW did not start (see $CEPH_DIR.log); its target will not run"
      tail -n 20 "$CEPH_DIR.log" || true
    fi
  else
    echo "[test-all] no Ceph RGW here ($SHARED_TOOLS/ceph-s3.sh or radosgw missing); the Ceph target will not run"
  fi
fi

stop_servers() {
  if [ "$started_ceph" = 1 ]; then CEPH_S3_DIR=$CEPH_DIR bash "$SHARED_TOOLS/stop-ceph-s3.sh" --wipe >/dev/null 2>&1 || true; fi
  if [ "$started_swift" = 1 ]; then SWIFT_S3_DIR=$SWIFT_DIR bash "$SHARED_TOOLS/stop-swift-s3.sh" >/dev/null 2>&1 || true; rm -rf "$SWIFT_DIR"; fi
}
trap stop_servers EXIT

npm test

# Swift's s3api refuses If-None-Match (501): the backend and cloud contract
# suites and the racing-writers suite run on it too, so the read-back commit
# protocol is held to the same promises. Ceph is stopped first (memory).
if [ "${MINUS80_NO_SWIFT:-0}" != 1 ] && [ -x /usr/bin/swift-proxy-server ] && [ -f "$SHARED_TOOLS/swift-s3.sh" ]; then
  if [ "$started_ceph" = 1 ]; then CEPH_S3_DIR=$CEPH_DIR bash "$SHARED_TOOLS/stop-ceph-s3.sh" --wipe >/dev/null 2>&1 || true; started_ceph=0; fi
  echo "[test-all] starting OpenStack Swift s3api (about 10 s)"
  if out=$(SWIFT_S3_DIR=$SWIFT_DIR bash "$SHARED_TOOLS/swift-s3.sh" 2>"$SWIFT_DIR.log"); then
    started_swift=1
    eval "$(echo "$out" | tail -n 3)"
    MINUS80_TEST_S3_ENDPOINT=$S3_ENDPOINT MINUS80_TEST_S3_ACCESS_KEY=$AWS_ACCESS_KEY_ID MINUS80_TEST_S3_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
      MINUS80_TEST_S3_NAME="Swift s3api" MINUS80_TEST_S3_CONDITIONAL_WRITES=0 AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= \
      npx vitest run test/cloud/backends/s3env.test.ts test/cloud/s3env.test.ts test/reliability/concurrency.test.ts
    echo "[test-all] the contract suites passed on Swift s3api"
  else
    echo "[test-all] Swift did not start (see $SWIFT_DIR.log)"
    tail -n 20 "$SWIFT_DIR.log" || true
    exit 1
  fi
else
  echo "[test-all] the Swift run is skipped (MINUS80_NO_SWIFT=1, or swift or $SHARED_TOOLS/swift-s3.sh missing)"
fi
