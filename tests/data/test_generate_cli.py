"""`distillab generate` as a user runs it: a subprocess, killed with -9 and rerun; bad input; bad flags."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_openai import refused_url

from distillab.data.journal import read_journal
from distillab.data.records import read_records

CONCURRENCY = 4


def _cmd(url: str, prompts: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "distillab.cli.main",
        "generate",
        "--teacher",
        url,
        "--prompts",
        str(prompts),
        "--out",
        str(out),
        "--no-progress",
        "--retry-base-delay",
        "0.01",
        *extra,
    ]


# Wide enough that rich does not wrap messages inside the paths and URLs the tests look for.
ENV = dict(os.environ, COLUMNS="500")


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV, check=False)


def test_kill_9_then_rerun_loses_and_repeats_nothing(fake_server, write_prompts, tmp_path: Path) -> None:
    fake, url = fake_server(latency=0.1)
    prompts, out = write_prompts(60), tmp_path / "out"
    cmd = _cmd(url, prompts, out, "--concurrency", str(CONCURRENCY))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 60
    while sum(1 for _ in read_journal(out)) < 12 if out.exists() else True:
        assert proc.poll() is None and time.monotonic() < deadline, "harvest ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored_at_kill = {r["prompt_id"] for r in read_journal(out)}
    assert 12 <= len(stored_at_kill) < 60
    # Requests in flight at the kill reach the server's counter late or never: each is asked at most twice.
    rerun = _run(cmd)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming: {len(stored_at_kill)} records already stored" in rerun.stderr
    table = read_records(out)
    assert sorted(table["prompt_id"].to_pylist()) == sorted(f"q{i}" for i in range(60))
    assert len(set(table["id"].to_pylist())) == 60
    asked = {int(text.rsplit(" ", 1)[1]): count for text, count in fake.asked.items()}
    assert set(asked) == set(range(60))
    # A stored record is never asked for again ...
    assert all(asked[int(pid[1:])] == 1 for pid in stored_at_kill)
    # ... and the only prompts asked twice are those in flight when the kill came: at most one per worker.
    repeated = [i for i, count in asked.items() if count > 1]
    assert len(repeated) <= CONCURRENCY and all(asked[i] == 2 for i in repeated)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["records"] == 60 and not (out / ".journal").exists()


def test_malformed_row_fails_before_any_output(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out"
    prompts.write_text('{"prompt": "ok"}\n{"prompt": "ok"}\n{"messages": "oops"}\n')
    result = _run(_cmd("http://127.0.0.1:9/v1", prompts, out))  # never asked: the file fails first
    assert result.returncode == 1
    assert f"{prompts}:3" in result.stderr and "'messages' must be a non-empty list" in result.stderr
    assert not out.exists()


def test_unreachable_teacher_fails_after_retries_naming_url(write_prompts, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with refused_url() as url:
        result = _run(_cmd(url, write_prompts(2), out, "--max-retries", "2"))
    assert result.returncode == 1
    assert (
        "gave up after 3 attempts" in result.stderr
        and url in result.stderr
        and "ConnectError" in result.stderr
    )
    assert not out.exists()


def test_bad_flags_are_reported_together(tmp_path: Path) -> None:
    result = _run(
        _cmd(
            "http://127.0.0.1:9/v1",
            tmp_path / "missing.jsonl",
            tmp_path / "out",
            "--concurrency",
            "-2",
            "--temperature",
            "3",
            "--n",
            "0",
        )
    )
    assert result.returncode == 1
    for problem in (
        "--concurrency must be at least 1 (got -2)",
        "--temperature must be in [0, 2] (got 3.0)",
        "--n must be at least 1",
        "missing.jsonl': file not found",
    ):
        assert problem in result.stderr


def test_help_shows_examples() -> None:
    result = _run([sys.executable, "-m", "distillab.cli.main", "generate", "--help"])
    assert result.returncode == 0 and "--top-logprobs" in result.stdout and "Examples" in result.stdout
