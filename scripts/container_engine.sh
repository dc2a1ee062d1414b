#!/usr/bin/env bash
# A container engine that speaks the Docker API, for machines without a Docker daemon (CI here):
# Podman's `podman system service` on a unix socket, plus a locally built Debian base image because
# no image registry is reachable. Idempotent: a second call reuses the service and the image.
#
#   eval "export $(bash scripts/container_engine.sh | tail -n 1)"   # sets DOCKER_HOST
#   bash scripts/container_engine.sh --stop                          # stops the service it started
#
# Needs root (apt-get, debootstrap, rootful Podman). Progress goes to stderr; the last line of stdout
# is DOCKER_HOST=unix://... .
# Settings (environment):
#   HENRYVC_ENGINE_DIR  state folder: socket, containers.conf, logs (default /var/tmp/henryvc-engine)
#   HENRYVC_BASE_IMAGE  tag of the local base image (default localhost/henryvc-base:bookworm)
#   DEBIAN_MIRROR       mirror for debootstrap (default http://deb.debian.org/debian)
#   STORAGE_DRIVER      Podman storage driver, e.g. vfs where overlay is unavailable (default: Podman's)
set -euo pipefail

DIR=${HENRYVC_ENGINE_DIR:-/var/tmp/henryvc-engine}
SOCK="$DIR/podman.sock"
BASE=${HENRYVC_BASE_IMAGE:-localhost/henryvc-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export CONTAINERS_CONF="$DIR/containers.conf"
START=$SECONDS

log() { printf '[container_engine %3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "error: $*"; exit 1; }
podman_() { podman ${STORAGE_DRIVER:+--storage-driver "$STORAGE_DRIVER"} "$@"; }
ping_ok() { [ -S "$SOCK" ] && [ "$(curl -s --max-time 5 --unix-socket "$SOCK" http://d/_ping 2>/dev/null)" = OK ]; }

if [ "${1:-}" = "--stop" ]; then
    if [ -f "$DIR/service.pid" ] && kill -0 "$(cat "$DIR/service.pid")" 2>/dev/null; then
        kill "$(cat "$DIR/service.pid")" && log "stopped podman service $(cat "$DIR/service.pid")"
    fi
    rm -f "$DIR/service.pid"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "run as root: it installs packages, runs debootstrap and a rootful Podman"
mkdir -p "$DIR"

# 1. Packages. runc, not crun: crun fails on cgroup v1 hosts like these CI machines.
missing=()
for pair in podman:podman runc:runc debootstrap:debootstrap newuidmap:uidmap fuse-overlayfs:fuse-overlayfs curl:curl; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
export PATH="$PATH:/usr/sbin:/sbin"

# 2. Engine configuration. default_ulimits = []: otherwise Podman sets RLIMIT_NOFILE on every
# container, which this host refuses.
conf='[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [ ! -f "$CONTAINERS_CONF" ] || [ "$(cat "$CONTAINERS_CONF")" != "$conf" ]; then
    printf '%s\n' "$conf" > "$CONTAINERS_CONF"
    log "wrote $CONTAINERS_CONF"
fi

# 3. The Docker-API service, unless one already answers on the socket. One left running from a folder
#    that is gone since (an older clone) is stopped first: it cannot start containers any more.
if [ -f "$DIR/service.pid" ] && pid=$(cat "$DIR/service.pid") && [ -e "/proc/$pid" ] \
        && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == *" (deleted)" ]]; then
    log "stopping podman service $pid: its working directory was deleted"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do [ -e "/proc/$pid" ] || break; sleep 0.25; done
fi
if ping_ok; then
    log "podman service already answers on $SOCK"
else
    rm -f "$SOCK"
    # From /: the service outlives this checkout, and conmon/runc started from a deleted working
    # directory fail every container start ("write child: broken pipe"), seen when a CI clone was replaced.
    (cd / && exec setsid podman ${STORAGE_DRIVER:+--storage-driver "$STORAGE_DRIVER"} system service --time=0 \
        "unix://$SOCK" >"$DIR/service.log" 2>&1 < /dev/null) &
    echo $! > "$DIR/service.pid"
    for _ in $(seq 1 60); do ping_ok && break; sleep 0.5; done
    ping_ok || die "podman system service did not answer on $SOCK; see $DIR/service.log"
    log "podman service $(cat "$DIR/service.pid") answers on $SOCK"
fi

# 4. The local base image (no registry reachable): a minimal Debian with Python and git.
if podman_ image exists "$BASE"; then
    log "base image $BASE exists"
else
    rootfs="$DIR/rootfs"
    rm -rf "$rootfs"
    log "debootstrap bookworm from $MIRROR (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,git \
        bookworm "$rootfs" "$MIRROR" > "$DIR/debootstrap.log" 2>&1 \
        || die "debootstrap failed; see $DIR/debootstrap.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman_ import --change 'CMD ["/bin/bash"]' - "$BASE" >&2
    rm -rf "$rootfs"
    log "imported $BASE"
fi

echo "DOCKER_HOST=unix://$SOCK"
