#!/usr/bin/env bash
# Make sure a hardened local Docker engine answers, and that the host tools
# Menagerie and the other setup scripts need are installed.
#
#  - host tools (always): e2fsprogs util-linux mount (per-job loop-mounted ext4
#    volumes), debootstrap (base image), busybox-static (tiny test image),
#    docker-registry (local registry), file.
#  - when `docker info` does not answer: Debian's docker.io, /etc/docker/daemon.json
#    (only when absent or written by us), dockerd started in the background.
#
# Facts about this machine kind (see /work/shared/notes): crun cannot run here
# (cgroup v1/hybrid), so the default runc is used; there is no AppArmor, so
# containers get no AppArmor profile; no systemd, so dockerd is started by hand.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# apparmor: its parser loads per-engine profiles on hosts whose kernel has AppArmor (and checks them in tests).
HOST_TOOLS=(e2fsprogs util-linux mount debootstrap busybox-static docker-registry file apparmor)
DAEMON_JSON=/etc/docker/daemon.json
PIDFILE=/run/menagerie-dockerd.pid
DOCKERD_LOG="$MENAGERIE_LOG_DIR/dockerd.log"
MARKER='menagerie.managed=true'

# Every key is accepted by dockerd 20.10.24 (Debian bookworm), checked by
# starting it with this file: unknown or misspelled keys make dockerd refuse to
# start ("the following directives don't match any configuration option").
#   userns-remap default  container root = an unprivileged host uid (dockremap's /etc/subuid range)
#   icc false             containers on the default bridge cannot talk to each other
#   no-new-privileges     setuid binaries cannot raise privileges (default for every container)
#   live-restore          containers survive a dockerd restart
#   log-driver/log-opts   bounded, rotated container logs
#   userland-proxy false  no docker-proxy processes; published ports (none used) via iptables
#   labels                our marker (a daemon label is valid config, and JSON has no comments):
#                         this script only ever rewrites a daemon.json that carries it.
write_daemon_json() {
  mkdir -p /etc/docker
  local tmp
  tmp="$(mktemp /etc/docker/.daemon.json.XXXXXX)"
  cat >"$tmp" <<EOF
{
  "labels": ["$MARKER"],
  "userns-remap": "default",
  "icc": false,
  "no-new-privileges": true,
  "live-restore": true,
  "log-driver": "local",
  "log-opts": { "max-size": "10m", "max-file": "3" },
  "userland-proxy": false
}
EOF
  chmod 0644 "$tmp"
  if [ -f "$DAEMON_JSON" ] && cmp -s "$tmp" "$DAEMON_JSON"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$DAEMON_JSON"
  return 0
}

ensure_daemon_json() {
  if [ ! -e "$DAEMON_JSON" ] || grep -q "$MARKER" "$DAEMON_JSON"; then
    if write_daemon_json; then step "wrote $DAEMON_JSON (userns-remap, icc off, no-new-privileges, live-restore, bounded logs)"; fi
  else
    warn "$DAEMON_JSON exists and was not written by Menagerie; leaving it alone (menagerie audit reports what it lacks)"
  fi
}

start_dockerd() {
  if pid_alive "$PIDFILE"; then
    step "dockerd (pid $(cat "$PIDFILE")) runs but does not answer yet; waiting…"
  else
    have dockerd || die "dockerd not found after installing docker.io; install Docker by hand"
    mkdir -p "$MENAGERIE_LOG_DIR"
    step "starting dockerd in the background (log: $DOCKERD_LOG)…"
    # setsid+nohup: the daemon outlives this script and its terminal.
    # dockerd writes its own pid file (--pidfile) and starts its own containerd.
    setsid nohup dockerd --pidfile "$PIDFILE" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  if ! wait_for 60 docker info; then
    tail -n 25 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not answer within 60 s (log: $DOCKERD_LOG)"
  fi
}

ensure_bridge() {
  # Image builds (RUN apt-get …) need the default bridge: with userns-remap,
  # `docker build --network host` is refused.
  if ! docker network inspect bridge >/dev/null 2>&1; then
    die "the default 'bridge' network is missing (dockerd started with --bridge=none?); image builds need it to reach the Debian mirror. Restart dockerd without --bridge=none."
  fi
}

verify() {
  local secopts
  secopts="$(docker info --format '{{json .SecurityOptions}}' 2>/dev/null || true)"
  case "$secopts" in
    *name=userns*) ;;
    *) warn "the Docker engine runs WITHOUT user-namespace remap (SecurityOptions: $secopts); engines' root would be host root" ;;
  esac
  if ! grep -q '^dockremap:' /etc/subuid 2>/dev/null; then
    case "$secopts" in
      *name=userns*) warn "no dockremap range in /etc/subuid (userns-remap uses another user?)" ;;
    esac
  fi
}

main() {
  if docker_answers; then
    # Docker already answers: only the host tools may be missing.
    apt_install "${HOST_TOOLS[@]}"
    ensure_bridge
    verify
    log "docker: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi

  need_root "docker.io ${HOST_TOOLS[*]}"
  need_apt "docker.io ${HOST_TOOLS[*]}"
  # daemon.json first, so that even a package that starts the service on
  # install starts it hardened.
  ensure_daemon_json
  apt_install docker.io "${HOST_TOOLS[@]}"
  if ! docker_answers; then
    start_dockerd
  fi
  ensure_bridge
  verify
  local range
  range="$(grep '^dockremap:' /etc/subuid 2>/dev/null | head -n1 || true)"
  log "docker: engine answers ($(docker version --format '{{.Server.Version}}')), userns-remap ${range:+range $range}"
}

main "$@"
