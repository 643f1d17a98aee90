"""Harvest throughput against a loopback OpenAI-compatible server with a fixed latency.

    python benchmarks/harvest_throughput.py [--latency 0.1] [--rounds 20]

The server (tests/data/fake_openai.py, async handlers, its own process) answers every request after
`latency` seconds with the same pre-encoded 16 tokens with log-probabilities (top-20 with token ids, or
the sampled tokens' only), so the measurement is of the harvester, not of the fake server's encoding.
With C requests in flight the ideal rate is C / latency records per second; we report the measured rate
as a fraction of that (goal >= 0.9), both steady-state (from the records' timestamps) and end to end
(probe, journal compaction and manifest included). As a baseline, the official `openai` client in a
plain sequential loop writing JSONL (goal: distillab at C=16 is >= 10x faster). Writes
benchmarks/results/harvest_throughput.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai
from rich.console import Console

from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.records import read_records

ROOT = Path(__file__).resolve().parents[1]
TOKENS = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests/data/fake_openai.py"),
            str(port),
            "--latency",
            str(latency),
            "--tokens",
            str(TOKENS),
            "--canned",
        ]
    )
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("benchmark server did not start")


def write_prompts(path: Path, count: int, tag: str) -> None:
    with path.open("w") as f:
        for i in range(count):
            f.write(
                json.dumps(
                    {"messages": [{"role": "user", "content": f"{tag} question {i}: what is {i} + 1?"}]}
                )
                + "\n"
            )


def distillab_rate(
    url: str, concurrency: int, top_k: int, latency: float, rounds: int, work: Path
) -> dict[str, float]:
    count = concurrency * rounds
    tag = f"c{concurrency}k{top_k}"
    prompts = work / f"{tag}.jsonl"
    write_prompts(prompts, count, tag)
    config = HarvestConfig(
        teacher=url,
        prompts=prompts,
        out=work / tag,
        concurrency=concurrency,
        max_tokens=TOKENS,
        top_logprobs=top_k,
        progress=False,
    )
    start, cpu = time.perf_counter(), time.process_time()
    result = run_harvest(config, console=Console(file=io.StringIO()))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    created = sorted(read_records(config.out, columns=["created"])["created"].to_pylist())
    steady_span = (created[-1] - created[0]).total_seconds() + latency  # first records land one latency in
    ideal = concurrency / latency
    assert result.records == count
    return {
        "concurrency": concurrency,
        "top_logprobs": top_k,
        "records": count,
        "ideal_per_s": ideal,
        "steady_per_s": count / steady_span,
        "steady_ratio": count / steady_span / ideal,
        "end_to_end_per_s": count / elapsed,
        "end_to_end_ratio": count / elapsed / ideal,
        "client_cpu_ms_per_record": cpu / count * 1000,
    }


def openai_sequential_rate(url: str, count: int, work: Path) -> float:
    """What a first script usually looks like: one request at a time, append each answer to JSONL."""
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=3)
    start = time.perf_counter()
    with (work / "openai.jsonl").open("w") as f:
        for i in range(count):
            answer = client.chat.completions.create(
                model="fake-teacher",
                messages=[{"role": "user", "content": f"seq question {i}"}],
                max_tokens=TOKENS,
                logprobs=True,
                top_logprobs=20,
            )
            f.write(answer.model_dump_json() + "\n")
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=20, help="requests per worker")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument(
        "--top-logprobs",
        type=int,
        nargs="+",
        default=[20, 0],
        help="alternatives per token asked for (0: sampled tokens' log-probabilities only)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    proc, url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            runs = []
            for top_k, c in [(k, c) for k in args.top_logprobs for c in args.concurrency]:
                runs.append(distillab_rate(url, c, top_k, args.latency, args.rounds, work))
                r = runs[-1]
                print(
                    f"top-{top_k:<2d} C={c:3d}: {r['steady_per_s']:7.1f} records/s steady "
                    f"({r['steady_ratio']:.2f} of ideal "
                    f"{r['ideal_per_s']:.0f}/s), {r['end_to_end_per_s']:7.1f}/s end to end "
                    f"({r['end_to_end_ratio']:.2f}); client CPU {r['client_cpu_ms_per_record']:.2f} ms/record"
                )
            baseline = openai_sequential_rate(url, 40, work)
    finally:
        proc.terminate()
        proc.wait()
    c16 = next((r for r in runs if r["concurrency"] == 16 and r["top_logprobs"] == 20), None)
    speedup = c16["end_to_end_per_s"] / baseline if c16 else None
    print(
        f"openai client, sequential loop: {baseline:.1f} records/s"
        + (f"; distillab at C=16 is {speedup:.1f}x faster end to end" if speedup else "")
    )
    result = {
        "benchmark": "harvest_throughput",
        "latency_s": args.latency,
        "tokens_per_record": TOKENS,
        "rounds": args.rounds,
        "runs": runs,
        "openai_sequential_per_s": baseline,
        "speedup_c16_vs_openai_sequential": speedup,
        "goals": {"steady_ratio": ">= 0.9", "speedup_c16": ">= 10"},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m_before": load_before,
            "load_average_1m_after": os.getloadavg()[0],
        },
    }
    out = ROOT / "benchmarks/results/harvest_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
