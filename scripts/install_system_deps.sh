#!/usr/bin/env bash
# OS packages henryvc's demo and tests need: git, espeak-ng (sample voice), sox, OpenSSH server (the SSH
# remote test), chromium + chromium-driver (the report page's browser test, driven by selenium), and for the
# container tier Podman + runc + debootstrap. Installs only what is missing.
# Needs root (or sudo) for apt-get; without it, it names what to install and fails.
set -euo pipefail
packages=(git espeak-ng sox openssh-server openssh-client podman runc debootstrap uidmap fuse-overlayfs curl
          python3-venv chromium chromium-driver slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install these Debian packages as root: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
echo "installing: ${missing[*]}" >&2
${SUDO:-} apt-get update -qq
DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
