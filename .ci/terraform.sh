#!/usr/bin/env bash
# CI setup of the container stack (Terraform + Docker), idempotent: a warm run takes seconds.
#   1. docker.io and debootstrap from apt, if missing
#   2. dockerd in the background (pid file $WIKISTREAM_CACHE/dockerd.pid), if no engine answers
#   3. the base image (docker/base-image.sh: cached root filesystem, registry, or debootstrap)
#   4. Terraform and the kreuzwerker/docker provider (terraform/bootstrap.sh: Go module proxy builds,
#      cached in $WIKISTREAM_CACHE keyed by version) and the CLI config pointing at the mirror
# The Makefile and the tests find all of it in $WIKISTREAM_CACHE (default ~/.cache/wikistream).
# Needs root (apt, dockerd) and Go >= 1.21 (it fetches the Go toolchain the provider asks for).
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${WIKISTREAM_CACHE:-$HOME/.cache/wikistream}"
mkdir -p "$cache"
log() { printf '\n=== terraform setup: %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
started=$SECONDS

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    pid_file="$cache/dockerd.pid"
    if [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        log "dockerd (pid $(cat "$pid_file")) is starting"
    else
        log "starting dockerd (log $cache/dockerd.log)"
        nohup dockerd >"$cache/dockerd.log" 2>&1 &
        echo $! >"$pid_file"
    fi
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { tail -n 20 "$cache/dockerd.log" >&2; echo "error: dockerd did not come up" >&2; exit 1; }
fi
echo "docker engine $(docker version --format '{{.Server.Version}}')"

log "base image"
docker/base-image.sh

log "Terraform and the Docker provider"
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
terraform/bootstrap.sh all

log "done in $((SECONDS - started)) s"
