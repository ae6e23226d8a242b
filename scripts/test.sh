#!/usr/bin/env bash
# `npm test`: installs and starts everything the tests need (npm dependencies,
# the Docker engine, images, registry, fixtures), checks types, lint and
# format, then runs every test against the real things.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MENAGERIE_ROOT"
bash scripts/ensure-node-deps.sh
bash scripts/setup.sh
bash scripts/ensure-chromium.sh
bash scripts/ensure-services.sh
step "building and checking types, lint and format…"
npm run --silent build
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check . ; die "formatting differs; run npm run format"; }
step "running the tests…"
exec npx vitest run "$@"
