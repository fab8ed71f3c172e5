#!/usr/bin/env bash
# Installs the Debian 12 packages afd-sizer needs and builds it into build/
# (and, with --sanitize, an ASan+UBSan build into build-asan/ and Release
# builds by gcc and clang into build-release/ and build-clang-release/,
# compiled only, to catch warnings that only the optimiser sees, and the
# libFuzzer targets by clang into build-fuzz/, integration/fuzz.cmake).
# Safe to run again: apt-get and cmake only do what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
    cmake make gcc clang libc6-dev pkg-config
    libevent-dev libjansson-dev libcmocka-dev
    libprotobuf-c-dev protobuf-c-compiler libgrpc-dev
    python3 python3-grpcio python3-grpc-tools python3-protobuf python3-yaml
    prometheus prometheus-alertmanager openssl valgrind iproute2 chromium
    libfuzzer-14-dev etcd-server etcd-client
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    echo "setup: installing ${missing[*]}" >&2
    $SUDO apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >&2
fi

JOBS=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAFD_WERROR=ON >&2
cmake --build build -j "$JOBS" >&2
if [ "${1:-}" = "--sanitize" ]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAFD_SANITIZE=ON \
        -DAFD_WERROR=ON >&2
    cmake --build build-asan -j "$JOBS" >&2
    # A user's Release build, by gcc and by clang, with warnings as errors:
    # optimiser-only warnings (-O3 maybe-uninitialized) surface here.
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DAFD_WERROR=ON >&2
    cmake --build build-release -j "$JOBS" >&2
    CC=clang cmake -S . -B build-clang-release -DCMAKE_BUILD_TYPE=Release \
        -DAFD_WERROR=ON >&2
    cmake --build build-clang-release -j "$JOBS" >&2
    # Fuzz targets (ASan+UBSan+libFuzzer): only what they link is built.
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DAFD_FUZZ=ON -DAFD_WERROR=ON >&2
    cmake --build build-fuzz --target afd_fuzz_all -j "$JOBS" >&2
fi
