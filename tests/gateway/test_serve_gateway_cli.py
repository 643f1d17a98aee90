"""`distillab serve --db` as a real process: keys from another process, logging, graceful shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from distillab.db.store import Store
from distillab.serving.process import _wait_for_announcement, _wait_healthy


def test_sigterm_drains_a_streaming_request_and_logs_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "gateway.db"
    with Store(str(db)) as store:  # a second process (the CLI's) shares the SQLite file
        _, key = store.create_key("alice")
    cmd = [
        sys.executable,
        "-m",
        "distillab.cli.main",
        "serve",
        "--model",
        str(tiny_model_dir),
        "--db",
        str(db),
        "--model-name",
        "tiny",
        "--port",
        "0",
        "--rpm",
        "100",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = _wait_for_announcement(proc, None, 120)
        _wait_healthy(url, proc, 120)
        assert httpx.get(url + "/models").status_code == 401
        body = {
            "model": "tiny",
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 60,
            "stream": True,
        }
        lines = []
        with httpx.stream(
            "POST",
            url + "/chat/completions",
            json=body,
            timeout=60,
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line and not lines:
                    proc.send_signal(signal.SIGTERM)  # shut down while the answer is still streaming
                lines.append(line)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "data: [DONE]" in lines
    text = "".join(
        json.loads(line[5:])["choices"][0]["delta"].get("content") or ""
        for line in lines
        if line.startswith("data: {") and json.loads(line[5:])["choices"]
    )
    with Store(str(db)) as store:
        (record,) = store.iter_logs(account="alice")
    assert record["status"] == 200 and record["response"] == text and record["completion_tokens"] >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--upstream", "http://127.0.0.1:9/v1"], "--upstream runs the gateway, which needs --db"),
        (["--model", "x", "--upstream", "http://127.0.0.1:9/v1", "--db", "g.db"], "exactly one of --model"),
        (["--upstream", "http://127.0.0.1:9/v1", "--db", "g.db", "--rpm", "-1"], "--rpm must be positive"),
        (["--model", "x", "--redis", "redis://127.0.0.1:6379"], "--redis holds the gateway's rate limits"),
        (
            [
                "--upstream",
                "http://127.0.0.1:9/v1",
                "--db",
                "g.db",
                "--redis",
                "127.0.0.1:6379",
                "--limits-on-failure",
                "maybe",
                "--replicas",
                "0",
            ],
            "  - --limits-on-failure must be open or closed (got 'maybe')\n"
            "  - --replicas must be at least 1 (got 0)\n"
            "  - --redis must be a redis://, rediss:// or unix:// URL, not a path",
        ),
        (
            [
                "--upstream",
                "http://127.0.0.1:9/v1",
                "--db",
                "g.db",
                "--forwarded-allow-ips",
                "10.0.0.0/8, lb.internal",
            ],
            "--forwarded-allow-ips: not an IP address or network: lb.internal",
        ),
    ],
)
def test_bad_serve_flags_exit_1(args: list[str], message: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "distillab.cli.main", "serve", *args],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and message in result.stderr


def test_the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(tmp_path: Path) -> None:
    from live_world import FakeModel

    from distillab.serving.background import run_in_background

    db = tmp_path / "gateway.db"
    with Store(str(db)) as store:
        _, key = store.create_key("alice")
    claimed = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "203.0.113.7"}
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    with run_in_background(FakeModel().app) as upstream:
        for trusted in ("127.0.0.1", "10.9.9.9"):  # the test's client is on loopback: a proxy, or not
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distillab.cli.main",
                    "serve",
                    "--upstream",
                    upstream + "/v1",
                    "--db",
                    str(db),
                    "--port",
                    "0",
                    "--forwarded-allow-ips",
                    trusted,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                url = _wait_for_announcement(proc, None, 120)
                _wait_healthy(url, proc, 120)
                assert (
                    httpx.post(url + "/chat/completions", json=body, headers=claimed, timeout=30).status_code
                    == 200
                )
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    with Store(str(db)) as store:
        assert [r["ip"] for r in store.iter_logs(account="alice")] == ["203.0.113.7", "127.0.0.1"]
