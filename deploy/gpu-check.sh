#!/usr/bin/env bash
# The GPU checks of issue 12, for a machine with an NVIDIA GPU, CUDA 13 and cuDNN 9 (one short
# run): builds the CUDA variant, proves MobileNetV2 and ResNet18 partitions under the CUDA EP
# match the CPU within verify's tolerance, and prints latency per provider.
#   deploy/gpu-check.sh [OUT]        # OUT: where the figures go (default: gpu-check/)
# Serving a CPU->GPU split over two agents needs 'agent --provider' (the next step of issue 12).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.csv"
deploy/publish.sh --gpu --out "$out/build" linux-x64 > "$out/publish.log"
edgesplit=$out/build/linux-x64/edgesplit
for model in mobilenetv2 resnet18; do
  "$edgesplit" verify "$model" --cuts 8 --provider cuda --json > "$out/verify-$model-cuda.json"
  for provider in cpu cuda; do
    "$edgesplit" run "$model" --random --count 100 --threads 4 --provider "$provider" --json > "$out/run-$model-$provider.json"
  done
done
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
for model in ("mobilenetv2", "resnet18"):
    v = json.loads((out / f"verify-{model}-cuda.json").read_text())
    print(f"verify {model} on {v['provider']}: {v['cuts_checked']} cuts, max abs diff {v['max_abs_diff']:.2e}, passed {v['passed']}")
    for provider in ("cpu", "cuda"):
        r = json.loads((out / f"run-{model}-{provider}.json").read_text())
        print(f"run {model} on {r['provider']}: p50 {r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms ({r['count']} runs, ONNX Runtime {r['ort_version']})")
PY
