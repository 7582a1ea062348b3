#!/bin/sh
# Installs what EdgeSplit's PyTorch side needs from Debian, as root. Nothing to do when present.
# Measured on Debian 12 (bookworm), none of them present: 149 MB downloaded, 642 MB on disk, 2 min 12 s.
set -eu
packages="python3-torch python3-torchvision python3-onnx"
if /usr/bin/python3 -c "import onnx, torch, torchvision" 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: PyTorch is missing; as root run: apt-get install -y --no-install-recommends $packages" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once if the first try cannot find the packages.
apt-get install -y -q --no-install-recommends $packages || { apt-get update -q && apt-get install -y -q --no-install-recommends $packages; }
