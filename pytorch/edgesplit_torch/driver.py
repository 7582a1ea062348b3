"""The driver (rank 0): deploys the stages, feeds frames like a camera, measures, prints JSON.

Frames arrive at a fixed rate (open loop, `--fps`), each due at t0 + i/fps; at most `in_flight`
are inside the pipeline (1 = sequential, one frame at a time through the stages; more =
pipelined, as ParetoPipe keeps several batches in flight) and the rest wait in arrival order, or,
with `--drop-when-full` (EdgeSplit's camera), are dropped and counted as misses.
A frame's latency runs from its due time to its result, so it includes that wait; a frame later
than its deadline, or failed, is a miss. With `--fps 0` the loop is closed: the next frame goes
as soon as one finishes, and latency runs from sending.
"""

import threading
import time

import torch
import torch.distributed.rpc as rpc

from . import cuts as cuts_module
from . import measure, worker
from . import zoo as zoo_module


def _send_chain(route, x):
    return rpc.rpc_async(route[0], worker.run_chain, args=(route[1:], x, {}, []))


def _send_via_driver(route, x):
    """ParetoPipe's pipeline manager: each stage's result comes back here and is sent on."""
    result = torch.futures.Future()

    def step(hop, x, outputs, stage_ms):
        def next_hop(future):
            try:
                y, new_outputs, elapsed = future.wait()
            except Exception as error:  # noqa: BLE001 - handed to the frame's future
                result.set_exception(error)
                return
            step(hop + 1, y, new_outputs, stage_ms + [elapsed])

        if hop == len(route):
            result.set_result((x, outputs, stage_ms))
        else:
            rpc.rpc_async(route[hop], worker.run_stage, args=(x, outputs)).add_done_callback(next_hop)

    step(0, x, {}, [])
    return result


class _Run:
    """Frames sent, finished and failed, filled in by the RPC callbacks."""

    def __init__(self, count, keep_outputs):
        self.lock = threading.Lock()
        self.latency_ms = [None] * count
        self.stage_ms = [None] * count
        self.finished_at = [None] * count
        self.sent_at = [None] * count
        self.outputs = {}
        self.errors = []
        self.keep_outputs = keep_outputs
        self.dropped = 0


def _schedule(send, route, frames, count, fps, in_flight, keep_outputs, drop_when_full=False):
    run = _Run(count, keep_outputs)
    slots = threading.Semaphore(in_flight)
    started = time.perf_counter() + 0.05
    for i in range(count):
        due = started + i / fps if fps > 0 else None
        if due is not None:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        if due is not None and drop_when_full:
            if not slots.acquire(blocking=False):
                run.dropped += 1
                continue
        else:
            slots.acquire()
        sent = time.perf_counter()
        origin = due if due is not None else sent
        run.sent_at[i] = origin

        def finished(future, i=i, origin=origin):
            now = time.perf_counter()
            try:
                x, outputs, stage_ms = future.wait()
                with run.lock:
                    run.latency_ms[i] = (now - origin) * 1000
                    run.stage_ms[i] = stage_ms
                    run.finished_at[i] = now
                    if i < run.keep_outputs:
                        run.outputs[i] = (x, outputs)
            except Exception as error:  # noqa: BLE001 - a failed frame is counted, not fatal
                with run.lock:
                    run.finished_at[i] = now
                    if len(run.errors) < 5:
                        run.errors.append(f"frame {i}: {error}")
            finally:
                slots.release()

        send(route, frames[i % len(frames)]).add_done_callback(finished)
    for _ in range(in_flight):
        slots.acquire()
    return run, started


def drive(args):
    worker.configure_process(args.threads, args.interface)
    cut_indices = [int(c) for c in args.cuts.split(",") if c.strip()] if args.cuts else []
    model = zoo_module.load(args.onnx, args.arch, weights=False)
    bounds = cuts_module.boundaries(model, cut_indices)
    stages = len(bounds) - 1
    route = [f"worker{r}" for r in range(1, stages + 1)]
    frames = measure.load_frames(args.frames, model.input_shape, args.seed)
    send = _send_chain if args.route == "chain" else _send_via_driver
    in_flight = 1 if args.mode == "sequential" else args.in_flight
    emulation = _emulation(args, stages)

    rpc.init_rpc("driver", rank=0, world_size=stages + 1,
                 rpc_backend_options=worker.backend_options(args.master_addr, args.master_port, args.rpc_timeout))
    graceful = False
    try:
        deployed = [rpc.rpc_async(name, worker.load_stage, args=(args.onnx, model.arch, bounds[s], bounds[s + 1], emulation[s]))
                    for s, name in enumerate(route)]
        deployed = [f.wait() for f in deployed]
        for i in range(args.warmup):
            send(route, frames[i % len(frames)]).wait()
        hop_payloads = _hop_payloads(send, route, frames[0], args.route)
        before = {name: rpc.rpc_sync(name, worker.reset_stats) for name in route}
        driver_before = worker.process_counters()
        run, started = _schedule(send, route, frames, args.count, args.fps, in_flight, args.outputs, args.drop_when_full)
        driver_after = worker.process_counters()
        after = {name: rpc.rpc_sync(name, worker.stats) for name in route}
        if args.route == "chain":
            hop_payloads[1:] = [after[name]["sent_payload_bytes"] for name in route[:-1]]
        graceful = True
    finally:
        rpc.shutdown(graceful=graceful)

    return _report(args, model, cut_indices, route, deployed, in_flight, run, started, before, after,
                   driver_before, driver_after, hop_payloads, frames)


def _numbers(text, count, name, default):
    values = [float(v) for v in text.split(",")] if text else [default] * count
    if len(values) != count or any(v < 0 for v in values):
        raise ValueError(f"--{name} needs {count} non-negative numbers, comma-separated; got '{text}'")
    return values


def _emulation(args, stages):
    """Each stage's device emulation: its slowdown, the latency of the hop into it (from the driver or
    the stage before) and, for the last, of the hop back to the driver."""
    slowdowns = _numbers(args.slowdowns, stages, "slowdowns", 1.0)
    delays = _numbers(args.hop_delays_ms, stages + 1, "hop-delays-ms", 0.0)
    return [{"slowdown": slowdowns[s], "delay_in_ms": delays[s], "delay_out_ms": delays[stages] if s == stages - 1 else 0.0}
            for s in range(stages)]


def _hop_payloads(send, route, frame, route_kind):
    """Bytes handed to TensorPipe on each hop for one frame (the driver's first hop here; a
    chained route's later hops are measured by the workers that send them)."""
    if route_kind == "chain":
        return [worker.payload_bytes(worker.run_chain, (route[1:], frame, {}, []))] + [None] * (len(route) - 1)
    payloads, x, outputs = [], frame, {}
    for name in route:
        payloads.append(worker.payload_bytes(worker.run_stage, (x, outputs)))
        x, outputs, _ = rpc.rpc_sync(name, worker.run_stage, args=(x, outputs))
    return payloads


def _report(args, model, cut_indices, route, deployed, in_flight, run, started, before, after,
            driver_before, driver_after, hop_payloads, frames):
    latencies = [v for v in run.latency_ms if v is not None]
    completed = len(latencies)
    failed = args.count - completed - run.dropped
    last = max((t for t in run.finished_at if t is not None), default=started)
    duration = max(last - started, 1e-9)

    def delta(a, b):
        return {"cpu_seconds": b["cpu_seconds"] - a["cpu_seconds"], "bytes_written": b["wchar"] - a["wchar"],
                "bytes_read": b["rchar"] - a["rchar"], "rss_mb": b["rss_mb"]}

    workers = []
    for s, name in enumerate(route):
        workers.append({"name": name, "stage": s, "units": deployed[s]["units"], "threads": deployed[s]["threads"],
                        "load_seconds": deployed[s]["load_seconds"], **delta(before[name], after[name]),
                        "compute_ms": measure.percentiles(after[name]["compute_ms"])})
    # Via the driver, a stage's output goes back to the driver before the next hop.
    senders = ["driver"] + [f"{name} via driver" if args.route == "via-driver" else name for name in route[:-1]]
    hops = [{"from": senders[h], "to": name, "payload_bytes": hop_payloads[h]} for h, name in enumerate(route)]
    outputs = []
    for i in sorted(run.outputs):
        x, side = run.outputs[i]
        outputs.append(measure.output_record(i, i % len(frames), model.output_names, zoo_module.final_outputs(model, x, side)))
    stage_ms = [s for s in run.stage_ms if s is not None]
    # (seconds from the run's start to the frame's due or send time, latency ms) per finished frame.
    samples = [[(run.sent_at[i] - started), run.latency_ms[i]] for i in range(args.count) if run.latency_ms[i] is not None]
    return {
        "runtime": "pytorch-rpc", **measure.versions(), "model": model.arch, "onnx": args.onnx,
        "weights": deployed[0]["weights"], "cuts": cut_indices, "mode": args.mode, "route": args.route,
        "in_flight": in_flight, "fps": args.fps, "closed_loop": args.fps <= 0, "deadline_ms": args.deadline_ms,
        "frames": args.count, "completed": completed, "failed": failed, "dropped": run.dropped, "warmup": args.warmup,
        "duration_seconds": duration, "achieved_fps": completed / duration,
        "latency_ms": measure.percentiles(latencies),
        "deadline_misses": failed + run.dropped + sum(1 for v in latencies if v > args.deadline_ms),
        "stage_compute_ms": [measure.percentiles([s[i] for s in stage_ms]) for i in range(len(route))],
        "workers": workers, "driver": delta(driver_before, driver_after), "hops": hops,
        "samples": samples, "outputs": outputs, "errors": run.errors,
    }
