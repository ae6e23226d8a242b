# shellcheck shell=bash
# Shared helpers for Menagerie's machine-setup scripts. Source it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Every script that sources this one runs with `set -euo pipefail`.

set -euo pipefail

# Used by the scripts that source this file.
# shellcheck disable=SC2034
MENAGERIE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MENAGERIE_LOG_DIR=/var/log/menagerie
# shellcheck disable=SC2034
MENAGERIE_STATE_DIR=/var/lib/menagerie
# shellcheck disable=SC2034
REGISTRY_ADDR=127.0.0.1:5000
# shellcheck disable=SC2034
REGISTRY_HOST=localhost:5000

_prog="$(basename "${0:-menagerie}" .sh)"

# log: one quiet line (what is already in place).
log() { printf '%s: %s\n' "$_prog" "$*"; }
# step: something is being done (install, build, start...).
step() { printf '%s: %s\n' "$_prog" "$*"; }
warn() { printf '%s: warning: %s\n' "$_prog" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$_prog" "$*" >&2
  exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    die "must run as root (it installs packages and starts daemons). Run it with sudo, or install by hand: ${1:-docker.io and the host tools listed in docs/docker-setup.md}"
  fi
}

need_apt() {
  if ! have apt-get || ! have dpkg-query; then
    die "this script needs a Debian/Ubuntu host with apt. Install by hand: ${1:-docker.io e2fsprogs util-linux mount debootstrap busybox-static docker-registry file} (or your distribution's equivalents)"
  fi
}

# The distribution codename (bookworm) from /etc/os-release.
os_codename() {
  local c=""
  if [ -r /etc/os-release ]; then
    c="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
  fi
  printf '%s\n' "${c:-bookworm}"
}

# pkg_installed pkg -> 0 when dpkg says it is installed.
pkg_installed() {
  dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

_apt_updated=0
# apt_install pkg... : installs the missing ones; `apt-get update` runs at most
# once per script run, and only when something is missing.
apt_install() {
  local missing=() p
  for p in "$@"; do
    pkg_installed "$p" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  need_root "${missing[*]}"
  need_apt "${missing[*]}"
  mkdir -p "$MENAGERIE_LOG_DIR"
  local aptlog="$MENAGERIE_LOG_DIR/apt.log"
  if [ "$_apt_updated" -eq 0 ]; then
    step "apt-get update…"
    if ! apt-get update >>"$aptlog" 2>&1; then
      tail -n 20 "$aptlog" >&2
      die "apt-get update failed (log: $aptlog)"
    fi
    _apt_updated=1
  fi
  step "installing ${missing[*]} from Debian…"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1; then
    tail -n 20 "$aptlog" >&2
    die "apt-get install ${missing[*]} failed (log: $aptlog); install them by hand"
  fi
}

# apt_mirror: the Debian mirror apt is configured with for this release
# (never hard-coded: read from apt's own configuration).
apt_mirror() {
  local codename site
  codename="$(os_codename)"
  # shellcheck disable=SC2016 # $(SITE) is apt's template syntax, not the shell's
  site="$(apt-get indextargets --no-release-info --format '$(SITE) $(RELEASE)' 2>/dev/null |
    awk -v r="$codename" '$2 == r { print $1; exit }')"
  if [ -z "$site" ]; then
    # Fallback: parse deb822 .sources files, then one-line sources.list.
    site="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk -v r="$codename" '
        /^[[:space:]]*$/ { if (uri != "" && suites ~ ("(^| )" r "( |$)")) { print uri; exit } uri=""; suites=""; next }
        tolower($1) == "uris:" { uri=$2 }
        tolower($1) == "suites:" { $1=""; suites=$0 " " }
        END { if (uri != "" && suites ~ ("(^| )" r "( |$)")) print uri }' | head -n1)"
  fi
  if [ -z "$site" ]; then
    site="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -n -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+'"$codename"'[[:space:]].*/\2/p' | head -n1)"
  fi
  [ -n "$site" ] || die "cannot find the Debian mirror for '$codename' in apt's configuration (/etc/apt/sources.list*)"
  printf '%s\n' "${site%/}"
}

docker_answers() { docker info >/dev/null 2>&1; }

need_docker() {
  docker_answers || die "the Docker engine does not answer; run scripts/ensure-docker.sh first"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# pid_alive pidfile -> 0 when the pid in it is a running process.
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# wait_for seconds command... : polls once a second.
wait_for() {
  local n="$1"
  shift
  local i
  for ((i = 0; i < n; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

# fmt_secs N -> "1m23s" / "4s"
fmt_secs() {
  local s="$1"
  if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}
