r"""Benchmark: what the gateway adds to a request (key check, admission, forwarding, durable log write).

A fast loopback upstream (tests/data/fake_openai.py, its own process, canned 16-token answers, no
model) is measured directly and through `distillab serve --upstream ... --db` (its own process, SQLite
request log in WAL mode with synchronous=FULL, one account key), with the same client: first one
request at a time (added latency p50/p99), then `--concurrency` connections at once (latency and
throughput). Prints and writes `benchmarks/results/gateway_overhead.json`.
Goals (issue 5): at most 2 ms added p50, at least 0.8x the direct throughput at 64 connections.

    python benchmarks/gateway_overhead.py [--requests 4000] [--concurrency 64] [--pin 0,0,1]
    python benchmarks/gateway_overhead.py --upstream-latency-ms 50 \
        --out benchmarks/results/gateway_overhead_50ms.json

With an upstream that answers at once, the throughput ratio is a CPU ratio: the gateway does strictly more
per request than the fake upstream (parse, authorize, admit, forward, parse the answer, log durably,
answer), so on shared cores it cannot reach the upstream's rate. `--upstream-latency-ms` makes the fake
upstream take as long as a model would, which is what a gateway fronts in practice.

The client is a minimal HTTP/1.1 keep-alive client on raw asyncio sockets (`--client raw`, the
default): an httpx AsyncClient (`--client httpx`) costs more CPU per request than the fake upstream
does, so on a small machine it, not the server, bounds the direct throughput. Every process's CPU
seconds per request are reported too: on a machine whose cores the client, the gateway and the
upstream share, the throughput ratio is mostly a CPU split, and CPU per request says what each costs.
`--pin C,U,G` pins the client, upstream and gateway to those CPU numbers (sched_setaffinity).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BODY = {
    "model": "fake",
    "messages": [{"role": "user", "content": "Ann has 3 pens. She gets 4 more."}],
    "max_tokens": 16,
}
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            httpx.get(url + "/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends pre-encoded requests and waits for each answer
    (Content-Length bodies only: the gateway and the fake upstream answer JSON with one)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.need = -1
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.need < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            length = _LENGTH.search(head)
            if length is None:
                raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
            self.status, self.need = int(head[9:12]), end + 4 + int(length.group(1))
        if len(self.buffer) >= self.need and self.waiter is not None:
            del self.buffer[: self.need]
            self.need = -1
            self.waiter.set_result(self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    async def send(self, request: bytes) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


Sender = Callable[[], Coroutine[Any, Any, float]]
"""Sends one request and returns its milliseconds."""


async def raw_client(url: str, key: str, concurrency: int) -> tuple[list[Sender], Callable[[], None]]:
    """`concurrency` connections, each with a coroutine that sends one request and returns its ms."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(BODY).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    conns = [(await loop.create_connection(RawConnection, host, int(port)))[1] for _ in range(concurrency)]

    def sender(conn: RawConnection) -> Sender:
        async def one() -> float:
            started = time.perf_counter()
            status = await conn.send(request)
            if status != 200:
                raise RuntimeError(f"{url} answered {status}")
            return 1000 * (time.perf_counter() - started)

        return one

    def close() -> None:
        for conn in conns:
            conn.transport.close()

    return [sender(conn) for conn in conns], close


async def httpx_client(url: str, key: str, concurrency: int) -> tuple[list[Sender], Callable[[], None]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60, limits=limits
    )

    async def one() -> float:
        started = time.perf_counter()
        (await client.post("/v1/chat/completions", json=BODY)).raise_for_status()
        return 1000 * (time.perf_counter() - started)

    def close() -> None:
        asyncio.ensure_future(client.aclose())

    return [one] * concurrency, close


async def measure(
    url: str, key: str, n: int, concurrency: int, client: str, pids: list[int]
) -> dict[str, float]:
    make = raw_client if client == "raw" else httpx_client
    senders, close = await make(url, key, concurrency)
    first = senders[0]
    for _ in range(50):  # warm-up
        await first()
    sequential = [await first() for _ in range(min(n, 1000))]
    for sender in senders:  # every connection open and warm
        await sender()
    remaining = n
    loaded: list[float] = []

    async def worker(sender: Sender) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            loaded.append(await sender())

    cpu_before = [cpu_seconds(pid) for pid in pids]
    own_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(sender) for sender in senders))
    wall = time.perf_counter() - started
    own = time.process_time() - own_before
    cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before)]
    close()

    def cut(values: list[float], q: int) -> float:
        return round(statistics.quantiles(values, n=100)[q - 1], 3)

    result = {
        "sequential_p50_ms": cut(sequential, 50),
        "sequential_p99_ms": cut(sequential, 99),
        "loaded_p50_ms": cut(loaded, 50),
        "loaded_p99_ms": cut(loaded, 99),
        "requests_per_s": round(n / wall, 1),
        "client_cpu_ms_per_request": round(1000 * own / n, 3),
    }
    for name, seconds in zip(("upstream", "gateway"), cpu):
        result[f"{name}_cpu_ms_per_request"] = round(1000 * seconds / n, 3)
    return result


def run_client(url: str, key: str, args: argparse.Namespace, pids: list[int]) -> dict[str, float]:
    try:
        import uvloop  # the client's own overhead is not what is measured: keep it low

        return uvloop.run(measure(url, key, args.requests, args.concurrency, args.client, pids))
    except ImportError:
        return asyncio.run(measure(url, key, args.requests, args.concurrency, args.client, pids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--pin", default="", help="CPU numbers for client,upstream,gateway (e.g. 0,0,1)")
    parser.add_argument(
        "--upstream-latency-ms",
        type=float,
        default=0.0,
        help="the fake upstream waits this long before each answer, as a model server takes "
        "time to generate (0: answers at once, the issue's 'fast upstream')",
    )
    parser.add_argument("--gateway-args", default="", help="extra `distillab serve` flags, space-separated")
    parser.add_argument("--out", type=Path, default=RESULTS / "gateway_overhead.json")
    args = parser.parse_args()
    pins = [{int(cpu)} for cpu in args.pin.split(",")] if args.pin else []
    if pins and len(pins) != 3:
        parser.error("--pin takes three CPU numbers: client,upstream,gateway")

    from distillab.db.store import Store

    def start(cmd: list[str], pin: set[int] | None) -> subprocess.Popen[bytes]:
        taskset = ["taskset", "-c", ",".join(map(str, sorted(pin)))] if pin else []
        return subprocess.Popen(taskset + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    if pins:
        os.sched_setaffinity(0, pins[0])
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        db = Path(tmp_name) / "gateway.db"
        with Store(str(db)) as store:
            _, key = store.create_key("bench")
        try:
            up_port, gw_port = free_port(), free_port()
            procs.append(
                start(
                    [
                        sys.executable,
                        str(ROOT / "tests/data/fake_openai.py"),
                        str(up_port),
                        "--tokens",
                        "16",
                        "--canned",
                        "--latency",
                        str(args.upstream_latency_ms / 1000),
                    ],
                    pins[1] if pins else None,
                )
            )
            upstream = f"http://127.0.0.1:{up_port}"
            wait_up(upstream, procs[-1])
            serve = ["serve", "--upstream", upstream + "/v1", "--db", str(db), "--port", str(gw_port)]
            procs.append(
                start(
                    [sys.executable, "-m", "distillab.cli.main", *serve, *args.gateway_args.split()],
                    pins[2] if pins else None,
                )
            )
            gateway = f"http://127.0.0.1:{gw_port}"
            wait_up(gateway, procs[-1])
            pids = [proc.pid for proc in procs]
            direct = run_client(upstream, "unused", args, pids)
            through = run_client(gateway, key, args, pids)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
        with Store(str(db)) as store:
            logged = sum(1 for _ in store.iter_logs(account="bench"))
    result = {
        "benchmark": "gateway_overhead",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "client": args.client,
        "pin_client_upstream_gateway": args.pin or "none",
        "gateway_args": args.gateway_args,
        "upstream_latency_ms": args.upstream_latency_ms,
        "direct": direct,
        "gateway": through,
        "added_p50_ms": round(through["sequential_p50_ms"] - direct["sequential_p50_ms"], 3),
        "added_p99_ms": round(through["sequential_p99_ms"] - direct["sequential_p99_ms"], 3),
        "throughput_ratio": round(through["requests_per_s"] / direct["requests_per_s"], 3),
        "logged_records": logged,
        "goal": "added p50 <= 2 ms, throughput ratio >= 0.8 at 64 connections",
        "cpus": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
