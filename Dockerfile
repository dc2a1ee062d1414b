# The henryvc training image: runs the DVC stages of a Henry Voice run so that any tagged run can be
# re-created from its snapshot. One Dockerfile, buildx-ready, for linux/amd64 and linux/arm64:
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t henryvc:latest .
#   henryvc docker build [--platform linux/arm64] [--base-image IMG] [--tag T]
#
# Base images (ARG BASE_IMAGE):
#   default   nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 (amd64 + arm64 server: Grace, GB10). torch
#             2.11.0's PyPI wheels carry CUDA 13 for both x86_64 and aarch64, so the pins install as is.
#   Jetson    an L4T base and Jetson torch wheels, e.g.
#               --build-arg BASE_IMAGE=nvcr.io/nvidia/l4t-jetpack:r36.4.0
#               --build-arg TORCH_INDEX_URL=https://pypi.jetson-ai-lab.io/jp6/cu126
#             torch/torchaudio/torchcodec are then installed from that index first (at the versions
#             pinned in pyproject.toml), everything else from the normal index.
#   CI/tests  a local Debian base with python3 (scripts/container_engine.sh builds one with debootstrap).
#
# Two stages. `builder` (the same BASE_IMAGE) resolves the pinned set and builds a wheel for every
# dependency the index offers only as source for the target arch (scripts/image_wheels.py; on arm64
# monotonic-alignment-search, a C extension coqui-tts needs), installing a compiler only when a build
# needs one. The runtime stage installs the pinned set from the index plus those wheels with
# --only-binary :all:, so it never compiles and carries no compiler.
#
# Behind a proxy (training boxes, build machines): --build-arg PIP_INDEX_URL / PIP_EXTRA_INDEX_URL /
# PIP_TRUSTED_HOST, and a CA bundle: `henryvc docker build --ca-bundle FILE` puts FILE into the build
# context as build-ca.pem; with plain docker, copy it to build-ca.pem in the project root yourself.
ARG BASE_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

# ---------------------------------------------------------------------------------------------------
# base: the environment and OS packages every stage shares.
FROM ${BASE_IMAGE} AS base

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

# OS packages only when the base lacks them: the CUDA and L4T bases have no Python, the local test base
# has everything and may sit where no apt mirror answers.
RUN set -eu; missing=""; \
    command -v python3 >/dev/null || missing="$missing python3"; \
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$missing python3-venv"; \
    command -v git >/dev/null || missing="$missing git"; \
    [ -s /etc/ssl/certs/ca-certificates.crt ] || missing="$missing ca-certificates"; \
    if [ -n "$missing" ]; then \
        apt-get update && apt-get install -y --no-install-recommends $missing && rm -rf /var/lib/apt/lists/*; \
    fi

# pins: the dependency pins out of pyproject.toml and the lock of every version (requirements.lock, the
# one the host venv and CI install from), so that its other edits (version, tool settings, test
# markers) can leave the dependency layers cached where COPY --from is cached by content (Docker's
# builders); Podman 4.3 (buildah 1.28) rebuilds after any pyproject.toml change (measured).
FROM base AS pins

ARG EXTRAS=train

COPY pyproject.toml requirements.lock scripts/image_wheels.py /tmp/pins/
# Python 3.10 (Jetson's Ubuntu 22.04) has no tomllib: a venv gets tomli there.
RUN set -eu; py=python3; \
    python3 -c 'import tomllib' 2>/dev/null || { python3 -m venv /tmp/pins/venv; py=/tmp/pins/venv/bin/python; }; \
    $py /tmp/pins/image_wheels.py --requirements /tmp/pins/pyproject.toml "$EXTRAS" /pins; \
    rm -rf /tmp/pins; cat /pins/requirements.txt

# ---------------------------------------------------------------------------------------------------
# builder: wheels for what the index has only as source for this arch (a compiler only if one is needed).
FROM base AS builder

ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG TORCH_INDEX_URL


# Only the pins (and the script that reads them): source changes never get here.
COPY --from=pins /pins/requirements.txt /pins/requirements.lock /tmp/henryvc-build/
COPY scripts/image_wheels.py build-ca.pe[m] /tmp/henryvc-build/
# pip takes an empty PIP_INDEX_URL literally, so an empty build arg is unset ("not given").
RUN set -eu; cd /tmp/henryvc-build; \
    [ -n "${PIP_INDEX_URL:-}" ] || unset PIP_INDEX_URL; \
    [ -n "${PIP_EXTRA_INDEX_URL:-}" ] || unset PIP_EXTRA_INDEX_URL; \
    [ -n "${PIP_TRUSTED_HOST:-}" ] || unset PIP_TRUSTED_HOST; \
    if [ -s build-ca.pem ]; then export PIP_CERT=/tmp/henryvc-build/build-ca.pem; fi; \
    python3 -m venv /tmp/wheel-venv; \
    /tmp/wheel-venv/bin/pip install --only-binary :all: --upgrade "pip>=24.2" "setuptools>=68" wheel; \
    /tmp/wheel-venv/bin/python image_wheels.py requirements.txt - /wheels; \
    ls -l /wheels

# ---------------------------------------------------------------------------------------------------
FROM base

ARG BASE_IMAGE
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG TORCH_INDEX_URL

ENV VIRTUAL_ENV=/opt/henryvc \
    PATH=/opt/henryvc/bin:$PATH \
    HOME=/home/henry

# Dependencies before any source is copied: rebuilt only when the builder's output changes, i.e. when
# pyproject.toml (or the CA bundle) does. Binary only: the wheels the index lacks come from the builder.
COPY --from=builder /wheels /tmp/henryvc-wheels
COPY build-ca.pe[m] /tmp/henryvc-build/
RUN set -eu; \
    [ -n "${PIP_INDEX_URL:-}" ] || unset PIP_INDEX_URL; \
    [ -n "${PIP_EXTRA_INDEX_URL:-}" ] || unset PIP_EXTRA_INDEX_URL; \
    [ -n "${PIP_TRUSTED_HOST:-}" ] || unset PIP_TRUSTED_HOST; \
    if [ -s /tmp/henryvc-build/build-ca.pem ]; then export PIP_CERT=/tmp/henryvc-build/build-ca.pem; fi; \
    w=/tmp/henryvc-wheels; \
    python3 -m venv "$VIRTUAL_ENV"; \
    pip install --only-binary :all: "setuptools>=68" wheel; \
    if [ -n "${TORCH_INDEX_URL:-}" ]; then \
        pins=$(grep -E '^(torch|torchaudio|torchcodec)==' $w/constraints.txt); \
        pip install --only-binary :all: --index-url "$TORCH_INDEX_URL" -c $w/constraints.txt $pins; \
    fi; \
    pip install --only-binary :all: --find-links $w -c $w/constraints.txt -r $w/requirements.txt; \
    mkdir -p /etc/henryvc; cp $w/sdists.txt /etc/henryvc/wheels-built-from-source.txt; \
    rm -rf /tmp/henryvc-wheels /tmp/henryvc-build

# A non-root user. `henryvc docker run` runs as the host user's uid:gid instead, which need not exist
# here, so HOME is writable by anyone (caches of matplotlib, DVC, git config).
RUN useradd --create-home --shell /bin/bash henry \
    && chmod 1777 /home/henry \
    && mkdir -p /project /etc/henryvc

# The source: the only layers rebuilt when code changes. Installed without deps (they are above).
# GIT_COMMIT is declared only here: a build arg in scope is part of every later RUN's cache key, so
# declared earlier it would reinstall torch on every commit.
ARG GIT_COMMIT=unknown
ARG TARGETPLATFORM
COPY . /opt/henryvc-src
# setuptools came with the deps, so this needs no network.
RUN set -eu; pip install --no-deps --no-build-isolation /opt/henryvc-src; \
    GIT_COMMIT="$GIT_COMMIT" BASE_IMAGE="$BASE_IMAGE" TARGETPLATFORM="$TARGETPLATFORM" python3 -c '\
import json, os, platform, datetime; from importlib import metadata as m;\
v = lambda n: next(iter([d.version for d in m.distributions(name=n)]), None);\
info = {"git_commit": os.environ["GIT_COMMIT"], "base_image": os.environ["BASE_IMAGE"],\
        "arch": platform.machine(), "platform": os.environ.get("TARGETPLATFORM") or None,\
        "build_date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),\
        "python": platform.python_version(), "henryvc": v("henryvc"), "torch": v("torch"),\
        "coqui_tts": v("coqui-tts"), "dvc": v("dvc"),\
        "built_from_source": open("/etc/henryvc/wheels-built-from-source.txt").read().split()};\
open("/etc/henryvc/build-info.json", "w").write(json.dumps(info, indent=2, sort_keys=True) + "\n")'; \
    cat /etc/henryvc/build-info.json

LABEL org.opencontainers.image.title="henryvc" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

USER henry
WORKDIR /project
CMD ["dvc", "repro"]
