#!/usr/bin/env bash
# Build engine images and push them to the local registry.
#
#   scripts/build-engines.sh [dir…]
#     default: engines/apktool engines/fileinfo test/fixtures/engines/testkit
#              test/fixtures/engines/attacks
#
# Each <dir> (holding a Dockerfile) becomes localhost:5000/<basename>:stable.
# The build is skipped when that image already carries the label
# menagerie.context-sha256 equal to a hash of the build context (every file's
# path, mode and content, plus the IDs of the FROM images); the push is skipped
# when the registry already holds the image's digest. Env: FORCE=1 rebuilds
# without the build cache.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_DIRS=(engines/apktool engines/fileinfo test/fixtures/engines/testkit test/fixtures/engines/attacks)
LABEL=menagerie.context-sha256

# The docker 28 client would use BuildKit (buildx), which is not installed here;
# the daemon is 20.10 and its legacy builder does everything these images need.
export DOCKER_BUILDKIT=0

context_hash() {
  local dir="$1" from id
  {
    (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z |
      while IFS= read -r -d '' f; do
        printf '%s %s %s\n' "$(stat -c '%a' "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
      done)
    # The base image is part of the input: a re-made base means a rebuild.
    awk 'toupper($1) == "FROM" { print $2 }' "$dir/Dockerfile" | while read -r from; do
      id="$(docker image inspect -f '{{.Id}}' "$from" 2>/dev/null || echo missing)"
      printf 'FROM %s %s\n' "$from" "$id"
    done
  } | sha256sum | cut -d' ' -f1
}

registry_digest() {
  # Digest of <name>:stable in the local registry, or nothing.
  curl -s -m 5 -o /dev/null -D - \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY_ADDR/v2/$1/manifests/stable" 2>/dev/null |
    tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}

build_one() {
  local dir="$1" name tag hash have t0 logf built old_id
  [ -f "$dir/Dockerfile" ] || die "$dir has no Dockerfile"
  name="$(basename "$dir")"
  tag="$REGISTRY_HOST/$name:stable"
  hash="$(context_hash "$dir")"
  have="$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$tag" 2>/dev/null || true)"
  logf="$MENAGERIE_LOG_DIR/build-$name.log"
  if [ "$have" = "$hash" ] && [ "${FORCE:-0}" != 1 ]; then
    built=""
  else
    mkdir -p "$MENAGERIE_LOG_DIR"
    local nocache=()
    if [ "${FORCE:-0}" = 1 ]; then
      nocache=(--no-cache)
      step "rebuilding engine $name from scratch (FORCE=1; log: $logf)…"
    elif [ -z "$have" ]; then
      step "building engine $name (first build; can take a few minutes; log: $logf)…"
    else
      step "rebuilding engine $name (build context changed; log: $logf)…"
    fi
    t0=$SECONDS
    old_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
    if ! docker build --force-rm "${nocache[@]+"${nocache[@]}"}" --label "$LABEL=$hash" -t "$tag" "$dir" >"$logf" 2>&1; then
      tail -n 25 "$logf" >&2
      die "building $tag failed (log: $logf)"
    fi
    built=" built in $(fmt_secs $((SECONDS - t0))),"
    # The previous version, now untagged: remove it (kept if a container uses it).
    if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]; then
      docker rmi "$old_id" >/dev/null 2>&1 || true
    fi
  fi

  # Push unless the registry already has exactly this image.
  local reg local_digests pushed=""
  reg="$(registry_digest "$name")"
  local_digests="$(docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$tag")"
  if [ -z "$reg" ] || ! grep -qx "$REGISTRY_HOST/$name@$reg" <<<"$local_digests"; then
    step "pushing $tag…"
    if ! docker push "$tag" >>"$logf" 2>&1; then
      tail -n 10 "$logf" >&2
      die "pushing $tag failed (log: $logf); is the registry up? (scripts/ensure-registry.sh)"
    fi
    reg="$(registry_digest "$name")"
    pushed=" pushed,"
  fi
  if [ -n "$built$pushed" ]; then
    step "engine $name:${built}${pushed} $tag@$reg"
  else
    log "engine $name: up to date ($tag@${reg:0:19}…)"
  fi
}

main() {
  need_docker
  have curl || apt_install curl
  local dirs=() d
  # Arguments are relative to the caller's directory; defaults to the repo.
  for d in "$@"; do
    [ -d "$d" ] || die "no such engine directory: $d"
    dirs+=("$(cd "$d" && pwd)")
  done
  cd "$MENAGERIE_ROOT" || die "cannot cd to $MENAGERIE_ROOT"
  [ "${#dirs[@]}" -gt 0 ] || dirs=("${DEFAULT_DIRS[@]}")
  for d in "${dirs[@]}"; do
    build_one "${d%/}"
  done
  # Leftovers of older versions (untagged, labelled by us): drop them.
  docker image prune -f --filter "label=$LABEL" >/dev/null 2>&1 || true
}

main "$@"
