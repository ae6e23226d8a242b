#!/usr/bin/env bash
# A private Docker registry for engine images on 127.0.0.1:5000 (Debian's
# docker-registry, i.e. distribution 2.8), storage and config under
# /var/lib/menagerie/registry/, running in the background as the unprivileged
# `docker-registry` user. Docker allows plain HTTP to 127.0.0.0/8 registries by
# default, so `localhost:5000/<engine>:stable` pushes and pulls without TLS.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REG_DIR="$MENAGERIE_STATE_DIR/registry"
REG_CONFIG="$REG_DIR/config.yml"
REG_DATA="$REG_DIR/data"
PIDFILE=/run/menagerie-registry.pid
REG_LOG="$MENAGERIE_LOG_DIR/registry.log"
REG_URL="http://$REGISTRY_ADDR/v2/"

registry_answers() {
  # /v2/ answers 200 (or 401 when some other registry with auth is there).
  local code
  code="$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$REG_URL" 2>/dev/null || true)"
  [ "$code" = 200 ] || [ "$code" = 401 ]
}

write_config() {
  local tmp
  mkdir -p "$REG_DIR" "$REG_DATA"
  tmp="$(mktemp "$REG_DIR/.config.yml.XXXXXX")"
  cat >"$tmp" <<EOF
# Written by menagerie scripts/ensure-registry.sh; rewritten when it changes.
version: 0.1
log:
  level: info
  fields:
    service: menagerie-registry
storage:
  filesystem:
    rootdirectory: $REG_DATA
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  # loopback only: nothing outside this host can push or pull
  addr: $REGISTRY_ADDR
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 30s
    threshold: 3
EOF
  chmod 0644 "$tmp"
  if [ -f "$REG_CONFIG" ] && cmp -s "$tmp" "$REG_CONFIG"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$REG_CONFIG"
  fi
}

main() {
  if registry_answers; then
    log "registry: answers at $REG_URL"
    return 0
  fi
  need_root docker-registry
  apt_install docker-registry curl
  have docker-registry || die "docker-registry not found; install Debian's docker-registry package by hand"
  if pid_alive "$PIDFILE"; then
    step "registry (pid $(cat "$PIDFILE")) runs but does not answer; waiting…"
  else
    write_config
    mkdir -p "$MENAGERIE_LOG_DIR"
    local run_as=()
    if getent passwd docker-registry >/dev/null && have setpriv; then
      chown -R docker-registry: "$REG_DATA"
      run_as=(setpriv --reuid docker-registry --regid docker-registry --init-groups --no-new-privs)
    fi
    step "starting docker-registry on $REGISTRY_ADDR (storage $REG_DATA, log $REG_LOG)…"
    setsid nohup "${run_as[@]}" docker-registry serve "$REG_CONFIG" >>"$REG_LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  if ! wait_for 20 registry_answers; then
    tail -n 20 "$REG_LOG" >&2 || true
    die "the registry did not answer at $REG_URL within 20 s (log: $REG_LOG)"
  fi
  log "registry: answers at $REG_URL"
}

main "$@"
