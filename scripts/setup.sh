#!/usr/bin/env bash
# Prepare this machine for Menagerie: Docker engine (hardened), base images,
# local registry, engine images, test fixtures. Idempotent; a second run only
# checks and prints one line per part. See docs/docker-setup.md.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
t0=$SECONDS
for part in ensure-docker ensure-base-image ensure-registry build-engines fetch-fixtures; do
  bash "$here/$part.sh" || die "$part.sh failed; fix the problem above and run scripts/setup.sh again"
done
log "machine ready in $(fmt_secs $((SECONDS - t0)))"
