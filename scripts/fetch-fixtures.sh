#!/usr/bin/env bash
# Test fixtures that are too big to commit, taken from Debian packages:
#   test/fixtures/generated/framework-res.apk   (android-framework-res, ~45 MB APK)
# test/fixtures/generated/ is git-ignored. Skipped when already present.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GEN_DIR="$MENAGERIE_ROOT/test/fixtures/generated"
APK="$GEN_DIR/framework-res.apk"
PKG=android-framework-res
tmp=""

main() {
  if [ -s "$APK" ]; then
    log "fixtures: framework-res.apk present"
    return 0
  fi
  need_apt "$PKG (then copy framework-res.apk from it to $APK)"
  have dpkg-deb || die "dpkg-deb is missing; install dpkg"
  local t0=$SECONDS
  tmp="$(mktemp -d)"
  # _apt downloads into the directory: it must be able to write there.
  chmod 0755 "$tmp"
  chown _apt "$tmp" 2>/dev/null || true
  trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
  step "downloading $PKG from the Debian mirror for test fixtures…"
  if ! (cd "$tmp" && apt-get download -q "$PKG" >"$tmp/apt.log" 2>&1); then
    # An empty package cache (no `apt-get update` yet) is the usual cause.
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update >>"$tmp/apt.log" 2>&1 || true
    fi
    if ! (cd "$tmp" && apt-get download -q "$PKG" >>"$tmp/apt.log" 2>&1); then
      cat "$tmp/apt.log" >&2
      die "apt-get download $PKG failed"
    fi
  fi
  mkdir -p "$tmp/x" "$GEN_DIR"
  dpkg-deb -x "$tmp"/"$PKG"_*.deb "$tmp/x"
  local src
  src="$(find "$tmp/x" -name framework-res.apk -type f | head -n1)"
  [ -n "$src" ] || die "framework-res.apk not found in $PKG"
  install -m 0644 "$src" "$APK.part"
  mv -f "$APK.part" "$APK"
  step "fixtures: $APK ($(du -h "$APK" | cut -f1), $(fmt_secs $((SECONDS - t0))))"
}

main "$@"
