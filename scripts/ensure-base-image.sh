#!/usr/bin/env bash
# Base images, made locally because no registry can be pulled from here:
#
#  debian:bookworm-slim     debootstrap --variant=minbase from the Debian mirror
#                           apt is configured with, trimmed like the official
#                           slim image, imported with `docker import`.
#  menagerie/busybox:latest Debian's static busybox + applet symlinks, root and
#                           an `engine` user (uid/gid 1000), /tmp. No network.
#
# Each is skipped when an image with that name exists.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEBIAN_IMAGE="debian:$(os_codename)-slim"
BUSYBOX_IMAGE=menagerie/busybox:latest
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

_tmpdirs=()
cleanup() {
  local d
  for d in "${_tmpdirs[@]+"${_tmpdirs[@]}"}"; do
    # debootstrap may leave proc/sys mounted on failure.
    umount -R "$d/rootfs/proc" "$d/rootfs/sys" 2>/dev/null || true
    rm -rf --one-file-system "$d"
  done
}
trap cleanup EXIT

# new_tmpdir NAME: sets $tmpdir (not via $(…): the cleanup list must be
# updated in this shell, not in a subshell).
tmpdir=""
new_tmpdir() {
  mkdir -p "$MENAGERIE_STATE_DIR/tmp"
  tmpdir="$(mktemp -d "$MENAGERIE_STATE_DIR/tmp/$1.XXXXXX")"
  _tmpdirs+=("$tmpdir")
}

# Apt configuration of the official Debian container images (debuerreotype):
# no docs/man pages on later installs, no caches, compressed lists, no
# translations. Also the host's sources and validity settings, so `apt-get`
# in a Dockerfile reaches the same mirror the host does.
configure_rootfs_apt() {
  local root="$1" mirror="$2" codename="$3"
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d" "$root/etc/apt/sources.list.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# Like the official slim images: skip docs, man pages and translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'Acquire::GzipIndexes "true";\n' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # The host's mirror may be a dated snapshot: carry over its validity checks.
  local cfg
  cfg="$(apt-config dump Acquire::Check-Valid-Until Acquire::Check-Date 2>/dev/null |
    grep -E '^Acquire::Check-(Valid-Until|Date) ' || true)"
  if [ -n "$cfg" ]; then
    printf '// copied from the host apt configuration by menagerie ensure-base-image.sh\n%s\n' "$cfg" \
      >"$root/etc/apt/apt.conf.d/50menagerie-host"
  fi
  # Sources: the host's own files when they are for this release (they carry
  # updates and security too), else the mirror debootstrap used.
  if grep -qsE "(^|[[:space:]])$codename([[:space:]]|$)" /etc/apt/sources.list.d/*.sources; then
    rm -f "$root/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/"
  elif grep -qsE "^[[:space:]]*deb[[:space:]].*[[:space:]]${codename}[[:space:]]" /etc/apt/sources.list; then
    grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list >"$root/etc/apt/sources.list"
  else
    printf 'deb %s %s main\n' "$mirror" "$codename" >"$root/etc/apt/sources.list"
  fi
  # Services never start during image builds.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
}

trim_rootfs() {
  local root="$1"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/lib/dpkg/*-old "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.cache
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/groff/* \
    "$root"/usr/share/lintian/* "$root"/usr/share/linda/* "$root"/usr/share/locale/*
  # Keep the empty man sections: Java's postinst (update-alternatives with
  # man-page slaves) fails without /usr/share/man/man1.
  mkdir -p "$root"/usr/share/man/man{1..8}
  mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
  # Docker provides /dev, /proc, /sys, hostname and resolv.conf at run time.
  rm -rf "${root:?}"/dev/* "$root/etc/hostname" "$root/etc/resolv.conf"
  mkdir -p "$root/proc" "$root/sys" "$root/dev"
  : >"$root/etc/machine-id" 2>/dev/null || true
  chmod 1777 "$root/tmp" "$root/var/tmp"
}

ensure_debian() {
  if image_exists "$DEBIAN_IMAGE"; then
    log "base image $DEBIAN_IMAGE present"
    return 0
  fi
  need_root debootstrap
  apt_install debootstrap
  local codename mirror dir root t0
  codename="$(os_codename)"
  mirror="$(apt_mirror)"
  new_tmpdir debian
  dir="$tmpdir"
  root="$dir/rootfs"
  mkdir -p "$root"
  t0=$SECONDS
  step "building base image $DEBIAN_IMAGE with debootstrap --variant=minbase from $mirror (takes a minute or two)…"
  if ! debootstrap --variant=minbase "$codename" "$root" "$mirror" >"$dir/debootstrap.log" 2>&1; then
    mkdir -p "$MENAGERIE_LOG_DIR"
    cp "$dir/debootstrap.log" "$MENAGERIE_LOG_DIR/debootstrap.log"
    tail -n 20 "$dir/debootstrap.log" >&2
    die "debootstrap failed (log: $MENAGERIE_LOG_DIR/debootstrap.log)"
  fi
  configure_rootfs_apt "$root" "$mirror" "$codename"
  trim_rootfs "$root"
  step "importing $DEBIAN_IMAGE…"
  tar --numeric-owner --xattrs -C "$root" -c . |
    docker import \
      --change 'CMD ["bash"]' \
      --change "ENV PATH=$DEFAULT_PATH" \
      --change "LABEL menagerie.base=debootstrap-minbase" \
      --message "debootstrap --variant=minbase $codename (menagerie ensure-base-image.sh)" \
      - "$DEBIAN_IMAGE" >/dev/null
  step "base image $DEBIAN_IMAGE ready ($(docker image inspect -f '{{.Size}}' "$DEBIAN_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'), $(fmt_secs $((SECONDS - t0))))"
}

ensure_busybox() {
  if image_exists "$BUSYBOX_IMAGE"; then
    log "base image $BUSYBOX_IMAGE present"
    return 0
  fi
  apt_install busybox-static
  local bb=/bin/busybox dir root applet
  [ -x "$bb" ] || bb="$(dpkg -L busybox-static | grep -E '/busybox$' | head -n1)"
  if [ ! -x "$bb" ] || ! "$bb" --list-full >/dev/null 2>&1; then
    die "no static busybox found; install busybox-static by hand"
  fi
  step "building $BUSYBOX_IMAGE from Debian's busybox-static…"
  new_tmpdir busybox
  dir="$tmpdir"
  root="$dir/rootfs"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev,var/data}
  install -m 0755 "$bb" "$root/bin/busybox"
  # Applet symlinks, created on the host (`busybox --install -s` style).
  while read -r applet; do
    if [ -z "$applet" ] || [ "$applet" = bin/busybox ]; then continue; fi
    mkdir -p "$root/$(dirname "$applet")"
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done < <("$bb" --list-full)
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
engine:x:1000:1000:engine:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
engine:x:1000:
nogroup:x:65534:
EOF
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  tar --numeric-owner --owner=0 --group=0 -C "$root" -c . |
    docker import \
      --change 'CMD ["sh"]' \
      --change "ENV PATH=$DEFAULT_PATH" \
      --change "LABEL menagerie.base=busybox-static" \
      --message "Debian busybox-static (menagerie ensure-base-image.sh)" \
      - "$BUSYBOX_IMAGE" >/dev/null
  step "base image $BUSYBOX_IMAGE ready ($(docker image inspect -f '{{.Size}}' "$BUSYBOX_IMAGE" | awk '{printf "%.1f MB", $1/1e6}'))"
}

main() {
  need_docker
  ensure_debian
  ensure_busybox
}

main "$@"
