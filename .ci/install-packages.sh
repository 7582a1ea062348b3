#!/usr/bin/env bash
# Installs, from Debian, the tools some tests check against (where one is missing, its tests skip and say
# why): Chromium (the dashboard's browser test), promtool (the Prometheus output), python3-grpcio (a foreign
# gRPC client), PyTorch (the PyTorch RPC comparison), qemu-user (the opt-in arm64 check). Only what is
# missing is installed; with everything present it installs nothing (4.3 s here, mostly importing torch to check it). It never
# fails the run: without root or a reachable mirror it says so and the tests skip.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
/usr/bin/python3 -c "import grpc" 2>/dev/null || missing+=(python3-grpcio)
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ci: not installing ${missing[*]} (needs root and apt-get); their tests skip" >&2
  else
    echo "ci: installing ${missing[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    timeout 900 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
      || { timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 900 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; } \
      || echo "ci: could not install ${missing[*]}; their tests skip" >&2
  fi
fi
# PyTorch has its own script (it also picks the OpenMP BLAS that makes the comparison fair).
timeout 900 sh pytorch/install-debian-packages.sh >/dev/null 2>&1 || echo "ci: PyTorch not installed; the PyTorch tests skip" >&2
exit 0
