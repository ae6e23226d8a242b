#!/usr/bin/env bash
# Installs the npm dependencies when node_modules is missing or older than package-lock.json.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MENAGERIE_ROOT"
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; then
  log "npm dependencies: in place"
  exit 0
fi
step "installing npm dependencies (npm ci)…"
npm ci --no-audit --no-fund --loglevel=error
