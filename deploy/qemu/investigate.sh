#!/usr/bin/env bash
# Reproduces the evidence of deploy/qemu/README.md: why ONNX Runtime and .NET can crash under
# qemu-aarch64 on an x64 host, and that run-arm64.sh's two settings avoid it. Run as root (it
# bind-mounts a stand-in /proc/cpuinfo in a private mount namespace). Needs qemu-user,
# libc6-arm64-cross, libstdc++6-arm64-cross, gcc-aarch64-linux-gnu, gdb-multiarch (optional),
# a restored NuGet cache (dotnet restore) and, optionally, an arm64 build:
#   deploy/qemu/investigate.sh [out/linux-arm64]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-}
ort=${ORT_PACKAGE:-$HOME/.nuget/packages/microsoft.ml.onnxruntime/1.31.1}
cross=/usr/aarch64-linux-gnu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "## versions"
qemu-aarch64 --version | head -1
grep -m1 'model name' /proc/cpuinfo
echo "ONNX Runtime package: $ort"

aarch64-linux-gnu-gcc -O1 -o "$work/ort_smoke" "$here/ort_smoke.c" -I"$ort/build/native/include" -L"$ort/runtimes/linux-arm64/native" -lonnxruntime
aarch64-linux-gnu-gcc -O1 -o "$work/double_map" "$here/double_map.c"
mkdir -p "$work/lib" "$work/sysroot/proc"
ln -s "$ort/runtimes/linux-arm64/native/libonnxruntime.so" "$work/lib/libonnxruntime.so.1"
ln -s "$cross/lib" "$work/sysroot/lib"
for cpu in 0 1 2 3; do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$cpu"
done > "$work/sysroot/proc/cpuinfo"
printf 'vendor_id\t: GenuineIntel\nflags\t\t: fpu sse2\n' > "$work/no-processor-lines"
model="$work/squeezenet.onnx"
if [ -n "$build" ]; then
  "$here/run-arm64.sh" "$build/edgesplit" zoo squeezenet --out "$work" > /dev/null
else
  dotnet run --project "$here/../../src/EdgeSplit.Cli" -- zoo squeezenet --out "$work" > /dev/null
fi
smoke() { qemu-aarch64 "$@" -E LD_LIBRARY_PATH="$work/lib" "$work/ort_smoke" "$model" 2 1 2>&1 | grep -vE '^\s*$' | tail -3; echo "exit status ${PIPESTATUS[0]}"; }

echo; echo "## 1. ONNX Runtime's C API alone (no .NET) under qemu, the host's /proc/cpuinfo"
for cpu in max cortex-a72 cortex-a53 neoverse-n1 a64fx; do echo "-- -cpu $cpu"; smoke -cpu "$cpu" -L "$cross"; done

echo; echo "## 2. the same with a /proc/cpuinfo that has no 'processor' lines (bind-mounted, private namespace)"
export -f smoke; export work model cross
unshare -m bash -c "mount --bind '$work/no-processor-lines' /proc/cpuinfo && smoke -cpu cortex-a72 -L '$cross'"
if command -v gdb-multiarch > /dev/null; then
  echo "-- where it dies (gdb through qemu's gdbstub)"
  unshare -m bash -c "mount --bind '$work/no-processor-lines' /proc/cpuinfo
    (qemu-aarch64 -g 23457 -L '$cross' -E LD_LIBRARY_PATH='$work/lib' '$work/ort_smoke' '$model' > /dev/null 2>&1 &)
    sleep 1
    gdb-multiarch -q -batch -ex 'set sysroot $cross' -ex 'target remote 127.0.0.1:23457' -ex continue -ex 'bt 10' -ex 'x/1i \$pc' '$work/ort_smoke' 2>&1 \
      | grep -E 'SIGSEGV|^#|=>' "
fi
echo "-- the same host file, with -L pointing at a sysroot whose proc/cpuinfo is a Raspberry Pi 4's"
unshare -m bash -c "mount --bind '$work/no-processor-lines' /proc/cpuinfo && smoke -cpu cortex-a72 -L '$work/sysroot'"

echo; echo "## 3. code rewritten through a second mapping (what .NET's W^X does), then run"
echo "-- double mapping:"; qemu-aarch64 -L "$cross" "$work/double_map" 5 | tail -1
echo "-- one read-write-execute mapping (W^X off):"; qemu-aarch64 -L "$cross" "$work/double_map" 5 single | tail -1

if [ -n "$build" ]; then
  echo; echo "## 4. .NET maps its code twice under qemu unless DOTNET_EnableWriteXorExecute=0"
  for wx in 1 0; do
    n=$(DOTNET_EnableWriteXorExecute=$wx qemu-aarch64 -strace -L "$cross" "$build/edgesplit" --version 2>&1 | grep -cE 'mmap\(NULL,[0-9]+,PROT_READ\|PROT_WRITE,MAP_SHARED,')
    echo "DOTNET_EnableWriteXorExecute=$wx: $n writable shared mappings of code memory at start-up"
  done
fi
