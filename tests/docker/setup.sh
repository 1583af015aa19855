#!/usr/bin/env bash
# Make a Docker daemon and the Docker test image available, then exit 0.
#
# Idempotent: every step checks first and does nothing when its work is already done.
# Run as root on a fresh machine it installs docker.io and debootstrap with apt, starts
# dockerd without networking (the tests run with network_mode="none"), builds a small
# Debian rootfs with python3 and imports it as the test image. The rootfs tarball is
# cached, so a later run against a fresh daemon only imports it.
set -euo pipefail

IMAGE="braket-async-test:python3"
SUITE="bookworm"
# python3-venv: jobs with a requirements.txt make an environment with pip in it.
PACKAGES="python3,python3-venv"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/braket-async"
# Named by its packages, so that a change of the list builds a new one.
TARBALL="$CACHE_DIR/test-image-${SUITE}-${PACKAGES//,/-}.tar"
DOCKERD_LOG="$CACHE_DIR/dockerd.log"
DAEMON_TIMEOUT=60

step() { echo "setup.sh: $*"; }
fail() { echo "setup.sh: error: $*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" -eq 0 ] || fail "$1 needs root; run this script as root (or do it by hand)"
}

apt_install() {
    need_root "installing $*"
    step "installing $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || fail "apt-get update failed"
    apt-get install -y -q --no-install-recommends "$@" >/dev/null \
        || fail "apt-get install $* failed"
}

daemon_answers() { docker info >/dev/null 2>&1; }

# The Debian mirror this machine's apt uses (deb822 sources or sources.list lines).
debian_mirror() {
    local uri
    uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -v security | head -n 1 || true)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2}' /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | head -n 1 || true)
    [ -n "$uri" ] || fail "no Debian mirror found in this machine's apt sources"
    echo "$uri"
}

mkdir -p "$CACHE_DIR" || fail "cannot create cache folder $CACHE_DIR"

# 1. A Docker daemon.
if command -v docker >/dev/null 2>&1 && daemon_answers; then
    step "Docker daemon answers"
else
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        apt_install docker.io
    fi
    need_root "starting dockerd"
    step "starting dockerd --bridge=none --iptables=false (log: $DOCKERD_LOG)"
    # setsid + nohup: the daemon outlives this script and the shell that ran it.
    setsid nohup dockerd --bridge=none --iptables=false >>"$DOCKERD_LOG" 2>&1 </dev/null &
    dockerd_pid=$!
    step "waiting up to ${DAEMON_TIMEOUT}s for the daemon"
    for _ in $(seq 1 $((DAEMON_TIMEOUT * 5))); do
        daemon_answers && break
        kill -0 "$dockerd_pid" 2>/dev/null \
            || fail "dockerd exited during start-up; last lines of $DOCKERD_LOG:
$(tail -n 20 "$DOCKERD_LOG")"
        sleep 0.2
    done
    daemon_answers || fail "dockerd did not answer within ${DAEMON_TIMEOUT}s; see $DOCKERD_LOG"
    step "Docker daemon answers"
fi

# 2. The test image, labelled with its packages.
if [ "$(docker image inspect -f '{{ index .Config.Labels "packages" }}' "$IMAGE" 2>/dev/null)" \
        = "$PACKAGES" ]; then
    step "image $IMAGE present"
    exit 0
fi

if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    need_root "debootstrap"
    rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
    partial="$TARBALL.partial.$$"  # renamed when complete: a cut-off run leaves no tarball
    trap 'rm -rf "$rootfs" "$partial"' EXIT
    mirror=$(debian_mirror)
    step "building a $SUITE minbase rootfs with $PACKAGES in $rootfs (a few minutes)"
    # python3 (not python3-minimal): jobs need the full stdlib (json, ...).
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" \
        >"$CACHE_DIR/debootstrap.log" 2>&1 \
        || fail "debootstrap failed; see $CACHE_DIR/debootstrap.log"
    # Package caches and lists are of no use in a test image, only weight.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
        "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    step "writing rootfs tarball $TARBALL"
    tar --numeric-owner -C "$rootfs" -cf "$partial" . || fail "cannot write $TARBALL"
    mv "$partial" "$TARBALL"
    rm -rf "$rootfs"
    trap - EXIT
else
    step "using cached rootfs tarball $TARBALL"
fi

step "importing $TARBALL as $IMAGE"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL packages=$PACKAGES" \
    "$TARBALL" "$IMAGE" >/dev/null \
    || fail "docker import of $TARBALL failed (delete it to rebuild)"
docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "image $IMAGE missing after import"
step "image $IMAGE ready"
