#!/usr/bin/env bash
# Runs an arm64 build of edgesplit on an x64 machine under qemu-user: emulated, so for checking
# that it works, not for timing.
#
#   deploy/publish.sh linux-arm64 && deploy/qemu/run-arm64.sh out/linux-arm64/edgesplit verify squeezenet
#
# Needs Debian's qemu-user, libc6-arm64-cross and libstdc++6-arm64-cross. Two settings keep it from
# crashing (deploy/qemu/README.md has the evidence):
#  - a private sysroot for -L whose proc/cpuinfo is a Raspberry Pi 4's: qemu 7.2 shows an arm64
#    guest the host's /proc/cpuinfo, and ONNX Runtime's arm64 build segfaults as it loads when that
#    file has no 'processor' entries (its cpuinfo library); qemu looks paths up under -L first;
#  - DOTNET_EnableWriteXorExecute=0: .NET writes JIT code through a second mapping of the same
#    memory, which qemu-user does not watch, so it may run stale code.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
exe=$1
shift
cross=${EDGESPLIT_ARM64_LIBS:-/usr/aarch64-linux-gnu}
command -v qemu-aarch64 >/dev/null || { echo "error: qemu-aarch64 not found (apt-get install qemu-user)" >&2; exit 2; }
[ -e "$cross/lib/ld-linux-aarch64.so.1" ] || { echo "error: no arm64 C library in $cross (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)" >&2; exit 2; }
[ -x "$exe" ] || { echo "error: $exe is not an executable (build it with deploy/publish.sh linux-arm64)" >&2; exit 2; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
ln -s "$cross/lib" "$root/lib"
mkdir "$root/proc"
for cpu in 0 1 2 3; do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$cpu"
done > "$root/proc/cpuinfo"

status=0
DOTNET_EnableWriteXorExecute=0 qemu-aarch64 -cpu cortex-a72 -L "$root" "$exe" "$@" || status=$?
exit "$status"
