#!/usr/bin/env bash
# `npm run soak`: the randomized fault runs (test/reliability/faults.random.test.ts)
# many more times, with a random seed, bounded in time.
#
#   MINUS80_SOAK_MINUTES  wall-clock budget (default 20); runs stop starting when it is used up
#   MINUS80_FAULT_RUNS    runs per op and server (default 500)
#   MINUS80_SEED          default "random" (printed in the figures; replay a failing run with
#                         MINUS80_SEED=<seed> MINUS80_FAULT_RUN=<op>:<index>)
#   MINUS80_FAULT_SLOTS   runs in parallel (default 4)
#   MINUS80_TEST_S3_*     also soak that S3 endpoint (e.g. Ceph RGW), after the embedded s3rver
#   MINUS80_FIGURES_DIR   where figures go (default test-results/soak)
#
# Exits non-zero when a run broke an invariant (bytes lost, a half-visible state,
# a hang, an unexpected error) and prints the figures table either way.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${MINUS80_SOAK_MINUTES:-20}
servers=1
if [ -n "${MINUS80_TEST_S3_ENDPOINT:-}" ]; then servers=2; fi
export MINUS80_SEED=${MINUS80_SEED:-random}
export MINUS80_FAULT_RUNS=${MINUS80_FAULT_RUNS:-500}
export MINUS80_FIGURES_DIR=${MINUS80_FIGURES_DIR:-test-results/soak}
# push and pull, on each server, share the budget
export MINUS80_FAULT_DEADLINE_MS=$(( minutes * 60 * 1000 / (2 * servers) ))
rm -rf "$MINUS80_FIGURES_DIR/reliability" "$MINUS80_FIGURES_DIR/reliability-figures.json"
npm run build >/dev/null
status=0
timeout $(( minutes * 60 + 900 )) npx vitest run test/reliability/faults.random.test.ts || status=$?
node scripts/reliability-report.mjs --dir "$MINUS80_FIGURES_DIR" --check || status=$?
exit $status
