#!/usr/bin/env bash
# A container engine that speaks the Docker API, for machines without a Docker daemon (CI here):
# Podman's `podman system service` on a unix socket, plus a locally built Debian base image because
# no image registry is reachable. Idempotent: a second call reuses the service and the image.
#
#   eval "export $(bash scripts/container_engine.sh | tail -n 1)"   # sets DOCKER_HOST
#   bash scripts/container_engine.sh --arch arm64                    # also an arm64 base, run under QEMU
#   bash scripts/container_engine.sh --stop                          # stops the service it started
#
# --arch arm64 (on an x86_64 host) registers qemu-aarch64 with binfmt_misc through Debian's
# qemu-user-static when it is not registered yet, and builds localhost/henryvc-base:bookworm-arm64 the
# same way as the native base (debootstrap --arch arm64; about 4 minutes on 2 cores). Nothing is
# downloaded but Debian packages. The compiler the Dockerfile's builder stage needs on arm64 is NOT baked
# into the base: the builder stage installs it with apt only when a source build needs it, exactly as it
# must on the CUDA base the team uses, so the test builds what production builds.
#
# Needs root (apt-get, debootstrap, rootful Podman). Progress goes to stderr; the last line of stdout
# is DOCKER_HOST=unix://... .
# Settings (environment):
#   HENRYVC_ENGINE_DIR  state folder: socket, containers.conf, logs (default /var/tmp/henryvc-engine)
#   HENRYVC_BASE_IMAGE  tag of the local base image (default localhost/henryvc-base:bookworm; with
#                       --arch A for a foreign arch A: localhost/henryvc-base:bookworm-A)
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

ARCH=""
case "${1:-}" in
    --arch) ARCH=${2:-}; [ -n "$ARCH" ] || die "--arch needs a value: arm64 or amd64";;
    --arch=*) ARCH=${1#--arch=};;
esac
NATIVE=$(dpkg --print-architecture 2>/dev/null || echo amd64)
if [ -n "$ARCH" ] && [ "$ARCH" != "$NATIVE" ]; then
    case "$ARCH" in arm64) QEMU=aarch64;; amd64) QEMU=x86_64;; *) die "--arch $ARCH: only arm64 and amd64 are supported";; esac
    BASE=${HENRYVC_BASE_IMAGE:-localhost/henryvc-base:bookworm-$ARCH}
else
    ARCH=""
fi

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

# 1b. A foreign arch runs under QEMU user emulation: binfmt_misc mounted and qemu-$QEMU registered (with
#     the F flag Debian's qemu-user-static sets, so containers find the interpreter without bind mounts).
if [ -n "$ARCH" ]; then
    binfmt=/proc/sys/fs/binfmt_misc
    [ -f "$binfmt/status" ] || mount -t binfmt_misc binfmt_misc "$binfmt" \
        || die "cannot mount binfmt_misc (kernel without CONFIG_BINFMT_MISC, or no privilege): no $ARCH emulation"
    if [ -f "$binfmt/qemu-$QEMU" ] && grep -q '^enabled' "$binfmt/qemu-$QEMU"; then
        log "qemu-$QEMU already registered with binfmt_misc"
    else
        if ! dpkg -s qemu-user-static >/dev/null 2>&1; then
            log "installing qemu-user-static"
            apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                qemu-user-static binfmt-support >&2
        fi
        update-binfmts --enable "qemu-$QEMU" >&2 || update-binfmts --import "qemu-$QEMU" >&2 \
            || die "could not register qemu-$QEMU with binfmt_misc"
        grep -q '^enabled' "$binfmt/qemu-$QEMU" 2>/dev/null || die "qemu-$QEMU is not enabled in $binfmt"
        log "registered qemu-$QEMU with binfmt_misc"
    fi
fi

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

# 4. The local base image (no registry reachable): a minimal Debian with Python and git, for the native
#    arch or (--arch) a foreign one. An image of the wrong arch under the tag is replaced.
want_arch=${ARCH:-$NATIVE}
have_arch=$(podman_ image inspect --format '{{.Architecture}}' "$BASE" 2>/dev/null || true)
if [ "$have_arch" = "$want_arch" ]; then
    log "base image $BASE ($want_arch) exists"
else
    [ -z "$have_arch" ] || log "base image $BASE is $have_arch, not $want_arch: rebuilding it"
    rootfs="$DIR/rootfs${ARCH:+-$ARCH}"
    logfile="$DIR/debootstrap${ARCH:+-$ARCH}.log"
    rm -rf "$rootfs"
    log "debootstrap bookworm ($want_arch) from $MIRROR (a minute native, about 4 emulated)"
    debootstrap ${ARCH:+--arch="$ARCH"} --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,git \
        bookworm "$rootfs" "$MIRROR" > "$logfile" 2>&1 \
        || die "debootstrap failed; see $logfile"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman_ import --arch "$want_arch" --change 'CMD ["/bin/bash"]' - "$BASE" >&2
    rm -rf "$rootfs"
    log "imported $BASE ($want_arch)"
fi

echo "DOCKER_HOST=unix://$SOCK"
