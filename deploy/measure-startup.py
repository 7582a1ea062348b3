#!/usr/bin/python3
"""Start-up time of a built edgesplit: `edgesplit --version`, and an agent's time from spawn to
its first SERVING answer on grpc.health.v1 (loopback only). Prints medians over --runs runs, of
wall time and of the CPU time the process used (user + system; less sensitive to a busy machine).

Needs Debian's python3-grpcio (/usr/bin/python3). Usage:
  /usr/bin/python3 deploy/measure-startup.py out/linux-x64/edgesplit --runs 5
  /usr/bin/python3 deploy/measure-startup.py out/linux-arm64/edgesplit --runs 3 \
      --prefix "qemu-aarch64 -L /usr/aarch64-linux-gnu"      # emulated: times are qemu's, not a Pi's
"""
import argparse
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import grpc

# HealthCheckRequest{service=""} is the empty message; HealthCheckResponse{status=SERVING} is field 1 = 1.
SERVING = b"\x08\x01"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_version(command):
    before = os.times()
    start = time.perf_counter()
    subprocess.run(command + ["--version"], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_agent(command, timeout_s):
    port = free_port()
    cache = tempfile.mkdtemp(prefix="edgesplit-startup-")
    start = time.perf_counter()
    agent = subprocess.Popen(command + ["agent", "--name", "startup", "--listen", f"127.0.0.1:{port}", "--cache", cache],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout_s:
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited with {agent.returncode} before serving")
            # A fresh channel per try: a refused connection would put one channel into reconnect backoff (seconds).
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                try:
                    if channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=0.5) == SERVING:
                        return time.perf_counter() - start, cpu_seconds(agent.pid)
                except grpc.RpcError:
                    time.sleep(0.01)
        raise RuntimeError(f"agent did not serve within {timeout_s} s")
    finally:
        agent.send_signal(signal.SIGINT)
        try:
            agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        subprocess.run(["rm", "-rf", cache], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("edgesplit", help="the published edgesplit executable")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prefix", default="", help="command to run it under, e.g. 'qemu-aarch64 -L /usr/aarch64-linux-gnu'")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds an agent may take to serve")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    command = shlex.split(args.prefix) + [os.path.abspath(args.edgesplit)]
    folder = os.path.dirname(os.path.abspath(args.edgesplit))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)
    files = sum(len(f) for _, _, f in os.walk(folder))
    time_version(command)  # one untimed run: the page cache, as on a board after the first start
    version = [time_version(command) for _ in range(args.runs)]
    agent = [time_agent(command, args.timeout) for _ in range(args.runs)]

    def ms(values):
        return [round(v * 1000, 1) for v in values]

    result = {
        "edgesplit": command,
        "folder_bytes": size,
        "folder_files": files,
        "runs": args.runs,
        "version_wall_median_ms": round(statistics.median(v[0] for v in version) * 1000, 1),
        "version_cpu_median_ms": round(statistics.median(v[1] for v in version) * 1000, 1),
        "version_wall_ms": ms(v[0] for v in version),
        "agent_serving_wall_median_ms": round(statistics.median(a[0] for a in agent) * 1000, 1),
        "agent_serving_cpu_median_ms": round(statistics.median(a[1] for a in agent) * 1000, 1),
        "agent_serving_wall_ms": ms(a[0] for a in agent),
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{folder}: {size / 1e6:.1f} MB in {files} files")
        print(f"edgesplit --version: median {result['version_wall_median_ms']} ms wall, {result['version_cpu_median_ms']} ms CPU; wall {result['version_wall_ms']}")
        print(f"agent to SERVING:    median {result['agent_serving_wall_median_ms']} ms wall, {result['agent_serving_cpu_median_ms']} ms CPU; wall {result['agent_serving_wall_ms']}")
        print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
