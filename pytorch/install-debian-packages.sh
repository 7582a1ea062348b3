#!/bin/sh
# Installs what EdgeSplit's PyTorch side needs from Debian, as root. Nothing to do when present.
# libopenblas0-openmp: without an optimised BLAS (python3-torch only recommends one) torch falls back
# to the reference BLAS, and MobileNetV2 ran at 43 ms instead of 16 ms here; the OpenMP build follows
# torch.set_num_threads. Measured on Debian 12 with none present: 156 MB downloaded, 690 MB on disk,
# about 2 min 20 s (see pytorch/README.md).
set -eu
packages="python3-torch python3-torchvision python3-onnx libopenblas0-openmp"
if /usr/bin/python3 -c "import onnx, torch, torchvision" 2>/dev/null && ls /usr/lib/*/openblas-openmp/libblas.so.3 >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: PyTorch is missing; as root run: apt-get install -y --no-install-recommends $packages" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once if the first try cannot find the packages.
apt-get install -y -q --no-install-recommends $packages || { apt-get update -q && apt-get install -y -q --no-install-recommends $packages; }
