"""Load on the HTTP API: 50 concurrent clients on read endpoints, while ensemble jobs run.

Starts ``rareflow serve`` on a loopback port (one local tenant, a temporary workspace), then:

1. baseline: each read endpoint called alone, one client, in sequence (median latency);
2. load: N clients (default 50) call the read endpoints in turn for D seconds, and two ensemble
   jobs (a 2024-2026 scenario, R runs each) are submitted at the start of it; latencies of
   every read are kept, and the jobs must finish.

Prints p50/p95/p99 under load, the ratio of p99 to the alone median, the request rate, and the
jobs' states and times. The client runs in the same machine (asyncio + httpx), so it competes
with the server and the jobs for the cores; the numbers are an upper bound for a separate client.
With ``--client wrk`` (the default where Debian's ``wrk`` is installed) the load comes from
wrk, a C load generator, so the client does not compete with the server for the interpreter.
Run: ``python benchmarks/bench_web.py [--client wrk|python] [--clients 50] [--seconds 20]
[--runs 8] [--interval S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

READS = (
    "/api/health",
    "/api/scenarios",
    "/api/jobs",
    "/api/dataset/tables/facilities?limit=20",
    "/api/dataset/sources/usgs_mcs2025_ree",
)
SHORT = "name: short\nextends: baseline\nhorizon: {start: 2024, end: 2026}\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def baseline(client: httpx.AsyncClient, repeats: int = 30) -> dict[str, float]:
    alone = {}
    for path in READS:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            (await client.get(path)).raise_for_status()
            times.append(time.perf_counter() - start)
        alone[path] = statistics.median(times)
    return alone


async def reader(client: httpx.AsyncClient, offset: int, until: float, out: list[float],
                 failures: list[str], interval: float) -> None:  # fmt: skip
    index = offset
    await asyncio.sleep(interval * offset / 50)  # spread the clients' first requests
    while time.perf_counter() < until:
        path = READS[index % len(READS)]
        index += 1
        start = time.perf_counter()
        response = await client.get(path)
        out.append(time.perf_counter() - start)
        if response.status_code != 200:
            failures.append(f"{path}: {response.status_code}")
        if interval:
            await asyncio.sleep(interval)


async def jobs(client: httpx.AsyncClient, runs: int) -> list[tuple[str, float]]:
    (
        await client.post("/api/scenarios", json={"name": "short", "document": SHORT})
    ).raise_for_status()
    start = time.perf_counter()
    ids = []
    for seed in (1, 2):
        reply = await client.post(
            "/api/jobs", json={"scenario": "short", "runs": runs, "seed": seed}
        )
        reply.raise_for_status()
        ids.append(reply.json()["id"])
    finished: dict[str, tuple[str, float]] = {}
    while len(finished) < len(ids):
        for job in ids:
            if job in finished:
                continue
            record = (await client.get(f"/api/jobs/{job}")).json()
            if record["state"] in ("done", "failed", "cancelled"):
                finished[job] = (record["state"], time.perf_counter() - start)
        await asyncio.sleep(0.5)
    return [finished[j] for j in ids]


async def measure(url: str, clients: int, seconds: float, runs: int, interval: float) -> None:
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        alone = await baseline(client)
        latencies: list[float] = []
        failures: list[str] = []
        until = time.perf_counter() + seconds
        started = time.perf_counter()
        job_task = asyncio.create_task(jobs(client, runs)) if runs else None
        await asyncio.gather(
            *(reader(client, i, until, latencies, failures, interval) for i in range(clients))
        )
        elapsed = time.perf_counter() - started
        job_results = await job_task if job_task else []
    median_alone = statistics.median(alone.values())
    p50, p95, p99 = (percentile(latencies, q) * 1000 for q in (50, 95, 99))
    each = ", ".join(f"{p.split('?')[0]} {t * 1000:.1f} ms" for p, t in alone.items())
    print(f"alone (one client, median per endpoint): {each}")
    rate = len(latencies) / elapsed
    print(f"under load: {clients} clients pausing {interval:g} s, {len(latencies)} reads in "
          f"{elapsed:.1f} s ({rate:.0f}/s), failures {len(failures)}")  # fmt: skip
    ratio = p99 / (median_alone * 1000)
    print(f"  p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms "
          f"(p99 / alone median: {ratio:.1f}x; target p99 <= 50 ms)")  # fmt: skip
    for index, (state, took) in enumerate(job_results, start=1):
        print(f"  job {index} ({runs} runs) under that load: {state} after {took:.1f} s")


LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def with_wrk(url: str, clients: int, seconds: float, runs: int) -> None:
    """The same load from wrk (a C load generator), jobs submitted alongside over httpx."""
    script = Path(tempfile.mkdtemp()) / "paths.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in READS))

    async def both() -> tuple[str, list[tuple[str, float]]]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            job_task = asyncio.create_task(jobs(client, runs)) if runs else None
            process = await asyncio.create_subprocess_exec(
                "wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--latency", "-s", str(script),
                url, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            output, _ = await process.communicate()
            return output.decode(), (await job_task if job_task else [])

    report, job_results = asyncio.run(both())
    lines = [line.strip() for line in report.splitlines()]
    wanted = ("50%", "90%", "99%", "Requests/sec", "Non-2xx", "Socket errors")
    print(f"wrk, {clients} connections, {seconds:g} s: " + "; ".join(
        line for line in lines if line.startswith(wanted)))  # fmt: skip
    for index, (state, took) in enumerate(job_results, start=1):
        print(f"  job {index} ({runs} runs) under that load: {state} after {took:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=8, help="runs of each job (0: no jobs)")
    parser.add_argument(
        "--interval", type=float, default=0.0, help="pause of each client between requests, s"
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (Debian's package; closed loop) or asyncio + httpx",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rareflow-bench-web-"))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "rareflow", "serve", "--port", str(port), "--workspace",
         str(folder / "ws"), "--store", str(folder / "store.duckdb")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                httpx.get(f"{url}/api/session", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        httpx.get(f"{url}/api/dataset/tables", timeout=60)  # load the dataset once
        if args.client == "wrk":
            with_wrk(url, args.clients, args.seconds, args.runs)
        else:
            asyncio.run(measure(url, args.clients, args.seconds, args.runs, args.interval))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
