#!/usr/bin/env bash
# Self-contained, ReadyToRun builds of edgesplit for boards; nothing needs installing on the board.
#
#   deploy/publish.sh                      # linux-arm64 and linux-x64 into out/<rid>/
#   deploy/publish.sh linux-arm64          # Raspberry Pi 4/5 (64-bit OS), Jetson (JetPack 5/6)
#   deploy/publish.sh --with-model linux-x64    # keep the 64 MB pretrained ResNet18 (zoo, demo)
#   deploy/publish.sh --gpu linux-x64      # ONNX Runtime's CUDA/TensorRT build (x64 NVIDIA; large)
#   deploy/publish.sh --out /srv/edgesplit linux-arm64
#
# Each RID is one 'dotnet publish -c Release -r RID --self-contained' (ReadyToRun comes from the
# CLI project for any RID publish). Copy out/RID/ to the board and run out/RID/edgesplit.
set -euo pipefail
cd "$(dirname "$0")/.."

out=out
model=false
ort=cpu
rids=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --with-model) model=true; shift ;;
    --gpu) ort=gpu; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    linux-arm64|linux-x64) rids+=("$1"); shift ;;
    *) echo "error: unknown argument '$1' (RIDs: linux-arm64, linux-x64; see --help)" >&2; exit 2 ;;
  esac
done
[ ${#rids[@]} -gt 0 ] || rids=(linux-arm64 linux-x64)

for rid in "${rids[@]}"; do
  if [ "$ort" = gpu ] && [ "$rid" != linux-x64 ]; then
    echo "error: --gpu is for linux-x64; on a Jetson use the CPU build with --ort-library pointing at JetPack's libonnxruntime.so" >&2
    exit 2
  fi
  dotnet publish src/EdgeSplit.Cli -c Release -r "$rid" --self-contained \
    -p:PublishPretrainedModel="$model" -p:OrtPackage="$ort" -o "$out/$rid"
  echo "$out/$rid: $(du -sh "$out/$rid" | cut -f1), run $out/$rid/edgesplit"
done
