"""Command line: python3 -m edgesplit_torch (or python3 pytorch) {cuts,single,worker,drive} ...; results as JSON on stdout."""

import argparse
import json
import os
import sys

# OpenMP threads sleep when idle instead of spinning (read when torch loads libgomp): as EdgeSplit
# turns ONNX Runtime's spinning off. Spinning burns a device's CPU quota and, on a shared host,
# measured MobileNetV2 at p50 327 ms instead of 43 ms (2 threads, load average 6).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _model_arguments(parser):
    parser.add_argument("--onnx", required=True, help="a zoo model file (edgesplit zoo NAME --out DIR)")
    parser.add_argument("--arch", help="zoo name; default: the ONNX graph's name")


def _frame_arguments(parser):
    parser.add_argument("--frames", help="raw little-endian float32 file of whole input frames; default: 8 seeded random frames")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=50, help="timed frames")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--outputs", type=int, default=3, help="report the outputs of this many first frames")


def _rpc_arguments(parser):
    parser.add_argument("--master-addr", default="127.0.0.1", help="the driver's rendezvous address")
    parser.add_argument("--master-port", type=int, required=True)
    parser.add_argument("--interface", default="lo", help="network interface TensorPipe listens on")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads: the device's cores")
    parser.add_argument("--rpc-timeout", type=float, default=120.0, help="seconds")


def parse(argv):
    parser = argparse.ArgumentParser(prog="edgesplit_torch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    cuts = commands.add_parser("cuts", help="every EdgeSplit cut and its torchvision module boundary")
    _model_arguments(cuts)

    single = commands.add_parser("single", help="the whole model in this process: the single-device baseline")
    _model_arguments(single)
    _frame_arguments(single)
    single.add_argument("--threads", type=int, default=1)
    single.add_argument("--dump-cuts", help="comma-separated cuts whose carried tensor (frame 0) to write to --dump-dir")
    single.add_argument("--dump-dir", default=".")

    worker = commands.add_parser("worker", help="one RPC worker (one device); serves until the driver ends")
    _rpc_arguments(worker)
    worker.add_argument("--rank", type=int, required=True, help="1..stages, in stage order")
    worker.add_argument("--world-size", type=int, required=True, help="stages + 1 (the driver)")

    drive = commands.add_parser("drive", help="the driver (rank 0): deploys stages, feeds frames, prints the result")
    _model_arguments(drive)
    _frame_arguments(drive)
    _rpc_arguments(drive)
    drive.add_argument("--cuts", default="", help="EdgeSplit cut indices, comma-separated; one worker per stage")
    drive.add_argument("--mode", choices=["sequential", "pipelined"], default="sequential")
    drive.add_argument("--in-flight", type=int, default=4, help="frames in the pipeline at once when pipelined")
    drive.add_argument("--route", choices=["chain", "via-driver"], default="chain",
                       help="chain: each worker forwards to the next; via-driver: results return to the driver between stages (ParetoPipe)")
    drive.add_argument("--fps", type=float, default=0.0, help="frame rate of the open-loop source; 0 = closed loop")
    drive.add_argument("--deadline-ms", type=float, default=1000.0)
    drive.add_argument("--drop-when-full", action="store_true",
                       help="open loop: a frame due while --in-flight frames are in the pipeline is dropped, as EdgeSplit's camera does, instead of waiting")
    drive.add_argument("--slowdowns", default="", help="emulated devices: host wall seconds per CPU second of each stage's compute (default 1 each)")
    drive.add_argument("--hop-delays-ms", default="",
                       help="emulated links: one-way latency into each stage, then back to the driver (stages + 1 numbers; default 0)")
    args = parser.parse_args(argv)
    for name in ("count", "in_flight", "threads"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "worker":
            from . import worker
            worker.serve(args)
            return 0
        if args.command == "cuts":
            from . import cuts, zoo
            model = zoo.load(args.onnx, args.arch, weights=False)
            result = {"model": model.arch, "units": [u.name for u in model.units],
                      "cuts": [c.to_json() for c in cuts.map_cuts(model)]}
        elif args.command == "single":
            from . import single
            result = single.run(args)
        else:
            from . import driver
            result = driver.drive(args)
    except (OSError, ValueError) as error:
        # ZooError and CutError are ValueErrors: bad input, said in one line.
        print(f"error: {error}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    print()
    return 0

