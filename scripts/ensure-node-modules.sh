#!/usr/bin/env bash
# npm ci when node_modules is missing or older than package-lock.json (used by npm start and npm test).
set -u
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error </dev/null >&2 || { echo "npm ci failed" >&2; exit 1; }
fi
