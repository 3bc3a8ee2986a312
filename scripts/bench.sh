#!/usr/bin/env bash
# `npm run bench [-- name…]`: on Node 24 (as the image ships), with the private Docker engine of
# docker-env.sh (started if needed, stopped at the end if this run started it), builds and runs bench/run.js.
set -u
cd "$(dirname "$0")/.."
source scripts/use-node.sh
bash scripts/ensure-node-modules.sh || exit 1
export DOCKER_HOST
DOCKER_HOST=$(bash scripts/docker-env.sh host)
docker_was_up=0
bash scripts/docker-env.sh status >/dev/null 2>&1 && docker_was_up=1
[ "$docker_was_up" = 1 ] || bash scripts/docker-env.sh start >&2 || echo "bench.sh: no Docker engine: Docker benches will skip" >&2
cleanup() { [ "$docker_was_up" = 0 ] && bash scripts/docker-env.sh stop >/dev/null 2>&1; true; }
trap cleanup EXIT
npm run build --silent </dev/null >&2 || { echo "bench.sh: build failed" >&2; exit 1; }
node dist/bench/run.js "$@"
