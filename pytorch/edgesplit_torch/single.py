"""The single-device baseline: the whole torchvision model in this process, no RPC."""

import os
import time

import torch

from . import cuts as cuts_module
from . import measure
from . import zoo as zoo_module


def run(args):
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = zoo_module.load(args.onnx, args.arch)
    frames = measure.load_frames(args.frames, model.input_shape, args.seed)
    whole = zoo_module.Stage(model.units)

    def infer(frame):
        x, side = whole(frame, {})
        return zoo_module.final_outputs(model, x, side)

    for i in range(args.warmup):
        infer(frames[i % len(frames)])
    cpu_before = os.times()
    latencies, outputs = [], []
    for i in range(args.count):
        started = time.perf_counter()
        result = infer(frames[i % len(frames)])
        latencies.append((time.perf_counter() - started) * 1000)
        if i < args.outputs:
            outputs.append(measure.output_record(i, i % len(frames), model.output_names, result))
    cpu_after = os.times()
    first = infer(frames[0])[0].reshape(-1)
    top = torch.topk(first, min(5, first.numel()))
    report = {
        "runtime": "pytorch", **measure.versions(), "model": model.arch, "onnx": args.onnx, "weights": model.weights,
        "threads": torch.get_num_threads(), "frames": args.count, "warmup": args.warmup,
        "latency_ms": measure.percentiles(latencies),
        "cpu_seconds": (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
        "top5": top.indices.tolist(), "top5_scores": top.values.tolist(), "outputs": outputs,
    }
    if args.dump_cuts:
        report["cut_tensors"] = _dump_cut_tensors(model, frames[0], [int(c) for c in args.dump_cuts.split(",")], args.dump_dir)
    return report


def _dump_cut_tensors(model, frame, cut_indices, directory):
    """Writes the tensor the chain carries across each cut for frame 0 (raw float32, `cut-K.f32`),
    so it can be compared with the tensor EdgeSplit sends across the same cut."""
    os.makedirs(directory, exist_ok=True)
    mapped = cuts_module.map_cuts(model)
    written = []
    for index in cut_indices:
        bounds = cuts_module.boundaries(model, [index])
        x, side = zoo_module.Stage(model.units[:bounds[1]])(frame, {})
        path = os.path.join(directory, f"cut-{index}.f32")
        with open(path, "wb") as f:
            f.write(x.contiguous().numpy().astype("<f4").tobytes())
        running = next(t for t in mapped[index].tensors if t not in model.output_names)
        written.append({"index": index, "tensor": running, "shape": list(x.shape), "path": path,
                        "side_outputs": sorted(side)})
    return written
