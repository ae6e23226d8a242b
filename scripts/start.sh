#!/usr/bin/env bash
# `npm start`: installs what is missing (npm dependencies, the Docker engine,
# base and engine images, the local registry), builds, and serves. Every
# `menagerie serve` flag and MENAGERIE_* variable is honoured: pass flags
# after `--` (npm start -- --port 9000).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MENAGERIE_ROOT"
bash scripts/ensure-node-deps.sh
bash scripts/setup.sh
step "building the service…"
npm run --silent build
exec node dist/cli/main.js serve "$@"
