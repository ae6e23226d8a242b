#!/usr/bin/env bash
# Installs Debian's Chromium for the console's browser tests (test/e2e).
# Idempotent and quiet when it is already there; never downloads a browser
# from anywhere but the Debian mirror apt is configured with.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
apt_install chromium
[ -x /usr/bin/chromium ] || die "chromium is installed but /usr/bin/chromium is missing; install Debian's chromium package by hand"
log "chromium ready ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
