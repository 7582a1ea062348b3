"""One torch.distributed.rpc worker per device, and the functions the driver calls on it.

A worker holds one stage (consecutive units of the model) and runs one frame at a time on it,
with `torch.set_num_threads` equal to the device's cores. In the chained route a stage forwards
its output straight to the next worker (an async RPC handler, so no thread waits on the next
hop); in the via-driver route (what ParetoPipe's pipeline manager does) every stage returns its
output to the driver, which sends it on.
"""

import os
import threading
import time

import torch
import torch.distributed.rpc as rpc
from torch.distributed.rpc.internal import PythonUDF, _internal_rpc_pickler

from . import zoo as zoo_module

# RPC handler threads; compute is serialised by _lock, so these mostly wait on the network.
_HANDLER_THREADS = 8

_stage = None
_lock = threading.Lock()
_compute_ms = []
_sent_payload_bytes = None
# On an emulated testbed (EdgeSplit's namespace testbed), what its agents do themselves and the kernel
# cannot: stretch each compute's CPU time to the device's speed, and add each link's one-way latency.
_emulation = {"slowdown": 1.0, "delay_in_ms": 0.0, "delay_out_ms": 0.0}


def backend_options(master_addr, master_port, rpc_timeout_s):
    # TCP (libuv) transport and the basic channel only, as between separate boards: on one host
    # TensorPipe would otherwise pick shared memory and skip the network being measured.
    return rpc.TensorPipeRpcBackendOptions(
        init_method=f"tcp://{master_addr}:{master_port}", num_worker_threads=_HANDLER_THREADS,
        rpc_timeout=rpc_timeout_s, _transports=["uv"], _channels=["basic"])


def configure_process(threads, interface):
    """Threads for torch's math and the interface TensorPipe listens on; before init_rpc."""
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    os.environ["TP_SOCKET_IFNAME"] = interface
    # init_rpc also builds a Gloo group; by default Gloo takes the address the host name resolves to
    # (127.0.0.1), which inside a testbed device's namespace no other device reaches.
    os.environ["GLOO_SOCKET_IFNAME"] = interface


def serve(args):
    """Process main of a worker: join the group, serve until the driver shuts it down."""
    configure_process(args.threads, args.interface)
    rpc.init_rpc(f"worker{args.rank}", rank=args.rank, world_size=args.world_size,
                 rpc_backend_options=backend_options(args.master_addr, args.master_port, args.rpc_timeout))
    rpc.shutdown()  # graceful: returns once every process, the driver last, has called it


def load_stage(onnx_path, arch, first, last, emulation=None):
    """Builds the model from the zoo file and keeps units [first, last). `emulation` (slowdown: host
    wall seconds per CPU second of compute; delay_in_ms: the one-way latency of the hop into this
    stage; delay_out_ms: of the hop from the last stage back to the driver) emulates the device."""
    global _stage
    _emulation.update(emulation or {})
    started = time.perf_counter()
    model = zoo_module.load(onnx_path, arch)
    _stage = zoo_module.Stage(model.units[first:last])
    return {"units": [u.name for u in model.units[first:last]], "threads": torch.get_num_threads(),
            "load_seconds": time.perf_counter() - started, "weights": model.weights}


def _sleep_ms(ms):
    if ms > 0:
        time.sleep(ms / 1000)


def _cpu_seconds():
    # One torch thread computes on the calling thread: its own CPU time, as EdgeSplit's agent measures.
    # More threads: the whole process's (the RPC threads' little unpickling included).
    return time.thread_time() if torch.get_num_threads() == 1 else time.process_time()


def _run(x, outputs):
    _sleep_ms(_emulation["delay_in_ms"])  # the hop into this stage, added by the receiver
    with _lock:
        started = time.perf_counter()
        cpu = _cpu_seconds()
        x, outputs = _stage(x, outputs)
        # The device's speed: the compute ends its CPU time x slowdown after it started (as EdgeSplit's agent's
        # EmulatedLinks.AfterComputeAsync); a compute the host already slowed past that is not stretched further.
        _sleep_ms(((_cpu_seconds() - cpu) * _emulation["slowdown"] - (time.perf_counter() - started)) * 1000)
        elapsed = (time.perf_counter() - started) * 1000
        _compute_ms.append(elapsed)
    return x, outputs, elapsed


def payload_bytes(function, args):
    """What TensorPipe is handed for one call: the pickled call plus the raw bytes of its tensors."""
    pickled, tensors = _internal_rpc_pickler.serialize(PythonUDF(function, args, {}))
    return len(pickled) + sum(t.numel() * t.element_size() for t in tensors)


@rpc.functions.async_execution
def run_chain(route, x, outputs, stage_ms):
    """Runs this stage, then forwards to the next worker in `route`; the last one returns."""
    global _sent_payload_bytes
    x, outputs, elapsed = _run(x, outputs)
    stage_ms = stage_ms + [elapsed]
    if not route:
        _sleep_ms(_emulation["delay_out_ms"])  # the result's hop back to the driver
        done = torch.futures.Future()
        done.set_result((x, outputs, stage_ms))
        return done
    args = (route[1:], x, outputs, stage_ms)
    if _sent_payload_bytes is None:
        _sent_payload_bytes = payload_bytes(run_chain, args)
    return rpc.rpc_async(route[0], run_chain, args=args)


def run_stage(x, outputs):
    """Runs this stage and returns its output to the caller (the via-driver route)."""
    result = _run(x, outputs)
    _sleep_ms(_emulation["delay_out_ms"])
    return result


def process_counters():
    """CPU seconds, bytes written and read through system calls (sockets included; all threads)
    and resident memory of this process so far."""
    times = os.times()
    with open("/proc/self/io", encoding="ascii") as f:
        io = {key: int(value) for key, value in (line.split(":") for line in f)}
    with open("/proc/self/status", encoding="ascii") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return {"cpu_seconds": times.user + times.system, "wchar": io["wchar"], "rchar": io["rchar"], "rss_mb": rss_kb / 1024}


def reset_stats():
    global _sent_payload_bytes
    with _lock:
        _compute_ms.clear()
    _sent_payload_bytes = None
    return process_counters()


def stats():
    with _lock:
        compute = list(_compute_ms)
    return {**process_counters(), "compute_ms": compute, "sent_payload_bytes": _sent_payload_bytes}
