"""Frames, percentiles and output records shared by the driver and the single-device baseline."""

import os

import torch


def load_frames(path, shape, seed, count=8):
    """Frames from a raw little-endian float32 file of whole frames, or `count` seeded random ones
    with values in [0, 1) (a normalised pixel's range)."""
    if path is None:
        generator = torch.Generator().manual_seed(seed)
        return [torch.rand(shape, generator=generator) for _ in range(count)]
    frame_bytes = 4 * torch.Size(shape).numel()
    size = os.path.getsize(path)
    if size == 0 or size % frame_bytes:
        raise ValueError(f"frames file '{path}' holds {size} bytes, not a whole number of {shape} float32 frames ({frame_bytes} bytes each)")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    flat = torch.frombuffer(data, dtype=torch.float32)
    return [flat[i * (frame_bytes // 4):(i + 1) * (frame_bytes // 4)].reshape(shape).clone() for i in range(size // frame_bytes)]


def percentiles(latencies_ms):
    """Nearest-rank percentiles, as EdgeSplit's LatencyStats computes them."""
    if not latencies_ms:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ordered = sorted(latencies_ms)

    def rank(p):
        return ordered[min(max(-(-p * len(ordered) // 100) - 1, 0), len(ordered) - 1)]

    return {"count": len(ordered), "p50": rank(50), "p95": rank(95), "p99": rank(99),
            "mean": sum(ordered) / len(ordered), "max": ordered[-1]}


def output_record(frame, source_frame, names, tensors):
    return {"frame": frame, "source_frame": source_frame,
            "values": {n: t.reshape(-1).tolist() for n, t in zip(names, tensors)}}


def versions():
    """torch's and torchvision's versions, and the BLAS library torch loaded (an optimised one, or
    the reference BLAS, which makes some convolutions several times slower)."""
    import torchvision
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "blas": blas_library()}


def blas_library():
    with open("/proc/self/maps", encoding="ascii", errors="replace") as f:
        paths = {line.split()[-1] for line in f if "libblas.so" in line}
    return os.path.realpath(min(paths)) if paths else None
