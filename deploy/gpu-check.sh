#!/usr/bin/env bash
# The GPU checks of issue 12, for a machine with an NVIDIA GPU, CUDA 13 and cuDNN 9 (one short
# run): builds the CUDA variant, proves MobileNetV2 and ResNet18 partitions under the CUDA EP
# match the CPU within verify's tolerance, and prints latency per provider.
#   deploy/gpu-check.sh [OUT]        # OUT: where the figures go (default: gpu-check/)
# Then serves a CPU->GPU split over two agents on loopback (agent --provider cpu, agent --provider cuda)
# and checks every answer against the whole model.
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
# A CPU agent for the first half, a CUDA agent for the rest; both on loopback, ended by their ids.
"$edgesplit" zoo mobilenetv2 --out "$out" > /dev/null
"$edgesplit" agent --name cpu --listen 127.0.0.1:17301 --provider cpu > "$out/agent-cpu.log" 2>&1 & cpu_pid=$!
"$edgesplit" agent --name gpu --listen 127.0.0.1:17302 --provider cuda > "$out/agent-gpu.log" 2>&1 & gpu_pid=$!
trap 'kill $cpu_pid $gpu_pid ${serve_pid:-} 2>/dev/null || true' EXIT
sleep 3
"$edgesplit" serve --model "$out/mobilenetv2.onnx" --agents cpu=127.0.0.1:17301,gpu=127.0.0.1:17302 --split 30 \
  --listen 127.0.0.1:17300 > "$out/serve.log" 2>&1 & serve_pid=$!
sleep 20
"$edgesplit" infer --server 127.0.0.1:17300 --random --count 100 --check "$out/mobilenetv2.onnx" | tee "$out/split-cpu-gpu.txt"
"$edgesplit" top --server 127.0.0.1:17300 --once | tee "$out/top.txt"
