#!/usr/bin/env bash
# Make sure the base image exists in the local Docker engine: docker/base-image.sh [IMAGE]
#   IMAGE defaults to BASE_IMAGE (environment, else config/stack.env).
# Order: already present -> cached root filesystem tar -> `docker pull` -> debootstrap.
# Where no registry is reachable, debootstrap builds the same Debian release from Debian's archive
# and the result is tagged with the registry's name, so every Dockerfile's FROM works unchanged.
# The root filesystem is cached under ${WIKISTREAM_CACHE:-~/.cache/wikistream}/images/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=config/stack-env.sh
source "$root/config/stack-env.sh"

image="${1:-$(setting BASE_IMAGE)}"
cache="${WIKISTREAM_CACHE:-$HOME/.cache/wikistream}/images"
tarball="$cache/$(printf '%s' "$image" | tr '/:' '__').tar"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "base image $image: present"
    exit 0
fi
if [ -s "$tarball" ]; then
    docker import --change 'CMD ["bash"]' "$tarball" "$image" >/dev/null
    echo "base image $image: imported from $tarball"
    exit 0
fi
if [ "${BASE_IMAGE_PULL:-1}" = 1 ] && timeout 120 docker pull -q "$image" >/dev/null 2>&1; then
    echo "base image $image: pulled"
    exit 0
fi

# debian:<major>[.<point>]-slim -> the release's suite
case "$image" in
    debian:12*|debian:bookworm*) suite=bookworm ;;
    debian:13*|debian:trixie*) suite=trixie ;;
    *) echo "error: cannot pull $image and only Debian 12/13 images can be made locally" >&2; exit 1 ;;
esac
command -v debootstrap >/dev/null || { echo "error: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "base image $image: not pullable, running debootstrap $suite (about a minute) ..."
debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
want="$(printf '%s' "$image" | sed -n 's/^debian:\([0-9][0-9.]*\).*/\1/p')"
got="$(cat "$work/rootfs/etc/debian_version")"
if [ -n "$want" ] && [ "${got#"$want"}" = "$got" ]; then
    echo "warning: Debian's archive now serves $got, tagging it as $image anyway" >&2
fi
cat >"$work/rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
SOURCES
rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin
mkdir -p "$cache"
tar -C "$work/rootfs" --numeric-owner -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
docker import --change 'CMD ["bash"]' "$tarball" "$image" >/dev/null
echo "base image $image: built with debootstrap (Debian $got), cached in $tarball"
