#!/usr/bin/env bash
# Builds the image Rein's docker and gvisor sandboxes run (default tag rein-sandbox:1) without pulling
# anything from a registry: debootstrap lays out a minimal Debian (variant minbase, plus python3) from
# the Debian mirror this machine's apt already uses, and `docker import` turns the folder into an image.
# As root (CI) or via sudo; a Docker engine must answer (scripts/setup-docker.sh). Idempotent: an image
# already tagged is kept (REIN_SANDBOX_IMAGE_REBUILD=1 rebuilds it).
#
#   bash scripts/build-sandbox-image.sh [tag]
set -euo pipefail

TAG=${1:-${REIN_SANDBOX_IMAGE:-rein-sandbox:1}}
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"

if [[ "${REIN_SANDBOX_IMAGE_REBUILD:-}" != 1 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "build-sandbox-image: $TAG is already present"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "build-sandbox-image: installing debootstrap from Debian"
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends debootstrap
fi

# The suite and mirror this machine's apt is configured with (sources.list or deb822 .sources alike).
. /etc/os-release
SUITE=${REIN_SANDBOX_SUITE:-${VERSION_CODENAME:-bookworm}}
MIRROR=${REIN_SANDBOX_MIRROR:-$(apt-get indextargets --format '$(SITE) $(RELEASE)' |
  awk -v suite="$SUITE" '$2 == suite { print $1; exit }')}
if [[ -z $MIRROR ]]; then
  echo "build-sandbox-image: no apt source for the suite \"$SUITE\" on this machine; set REIN_SANDBOX_MIRROR to a Debian mirror URL" >&2
  exit 1
fi

ROOTFS=$($SUDO mktemp -d /var/tmp/rein-sandbox-rootfs.XXXXXX)
trap '$SUDO rm -rf --one-file-system "$ROOTFS"' EXIT
echo "build-sandbox-image: debootstrap --variant=minbase $SUITE from $MIRROR"
# python3: run_code's python and the escape suite's syscall probes (ctypes).
$SUDO debootstrap --variant=minbase --include=python3 "$SUITE" "$ROOTFS" "$MIRROR" >/dev/null
# Package caches and lists are of no use inside a sandbox that has no network.
$SUDO rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log
$SUDO tar -C "$ROOTFS" --numeric-owner -c . |
  docker import --change 'CMD ["/bin/sh"]' --change 'ENV LANG=C.UTF-8' \
    --message "rein sandbox: debootstrap minbase $SUITE + python3" - "$TAG" >/dev/null
echo "build-sandbox-image: built $TAG ($(docker image inspect "$TAG" --format '{{.Size}}') bytes)"
