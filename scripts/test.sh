#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need (as root), starts a
# local dockerd, builds, runs every test once, stops what it started. Tests that cannot run here skip
# with a loud SKIP line of their own; this script lists them at the end.
set -u
cd "$(dirname "$0")/.."
say() { echo "test.sh: $*" >&2; }

# Tests run on the Node the image ships (24 LTS), fetched when this machine's is older.
source scripts/use-node.sh

bash scripts/ensure-node-modules.sh || exit 1

# The tests' own Docker engine, private (never the machine's daemon at /var/run/docker.sock); tests and
# benches reach it through DOCKER_HOST. Stop at the end only an engine that this run started.
export DOCKER_HOST
DOCKER_HOST=$(bash scripts/docker-env.sh host)
docker_was_up=0
bash scripts/docker-env.sh status >/dev/null 2>&1 && docker_was_up=1
bash scripts/setup-test-env.sh
cleanup() { [ "$docker_was_up" = 0 ] && bash scripts/docker-env.sh stop >/dev/null 2>&1; true; }
trap cleanup EXIT

say "building"
npm run build --silent </dev/null || { say "build failed"; exit 1; }

mapfile -t files < <(find dist/test -name '*.test.js' | sort)
[ ${#files[@]} -gt 0 ] || { say "no test files found under dist/test"; exit 1; }
say "running ${#files[@]} test files"
log=$(mktemp /tmp/edgeguard-test-XXXXXX.log)
node --test --test-reporter=spec --test-timeout=300000 "${files[@]}" </dev/null 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

skips=$(grep -E "^\s*(SKIP|SKIPPED)|# SKIP" "$log" | sed -E 's/^\s+//' | sort -u)
if [ -n "$skips" ]; then
  echo
  echo "================ SKIPPED TESTS (see reasons) ================"
  echo "$skips"
  echo "============================================================="
fi
rm -f "$log"
exit "$status"
