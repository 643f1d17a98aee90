"""Durability and replicas: kill -9 under load loses no answered request; replicas share a PostgreSQL
store (one log, one set of account states)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from distillab.db.store import Store
from distillab.gateway.app import create_gateway
from distillab.gateway.relay import STATE_TTL_S
from distillab.models.generate import Engine
from distillab.serving.app import create_app
from distillab.serving.background import run_in_background
from distillab.serving.process import _wait_for_announcement, _wait_healthy

ADMIN = "replica-admin-token"


def content(i: int) -> str:
    return f"request number {i}"


def test_kill_9_under_load_keeps_every_answered_request(tiny_model_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "gateway.db"
    with Store(str(db)) as store:
        _, key = store.create_key("loader")
    with run_in_background(create_app(Engine.load(tiny_model_dir), model_name="tiny")) as upstream:
        cmd = [
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
        ]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        answered: list[int] = []
        enough = threading.Event()  # 40 answered: the gateway is under load
        lock = threading.Lock()
        counter = iter(range(10**6))
        try:
            url = _wait_for_announcement(proc, None, 120)
            _wait_healthy(url, proc, 120)

            def load() -> None:
                with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
                    while True:
                        with lock:
                            i = next(counter)
                        body = {
                            "model": "tiny",
                            "messages": [{"role": "user", "content": content(i)}],
                            "max_tokens": 1,
                        }
                        try:
                            reply = client.post(url + "/chat/completions", json=body)
                        except httpx.HTTPError:
                            return  # the gateway is gone
                        if reply.status_code == 200:
                            with lock:
                                answered.append(i)
                                if len(answered) >= 40:
                                    enough.set()

            workers = [threading.Thread(target=load) for _ in range(8)]
            for worker in workers:
                worker.start()
            enough.wait(60)
            os.kill(proc.pid, signal.SIGKILL)  # mid-load: requests are in flight right now
            for worker in workers:
                worker.join(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert len(answered) >= 40
    with Store(str(db)) as store:  # "after restart": a fresh process opens the same store
        logged = {
            r["messages"][0]["content"] for r in store.iter_logs(account="loader") if r["status"] == 200
        }
    missing = [i for i in answered if content(i) not in logged]
    assert missing == []


@pytest.mark.slow  # PostgreSQL
def test_replicas_share_one_postgresql_store(postgres_url: str, tiny_model_dir: Path, clock: Any) -> None:
    store_a, store_b = Store(postgres_url), Store(postgres_url)
    _, key = store_a.create_key("shared")
    admin = {"Authorization": f"Bearer {ADMIN}"}
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    auth = {"Authorization": f"Bearer {key}"}
    with (
        run_in_background(create_app(Engine.load(tiny_model_dir), model_name="tiny")) as upstream,
        run_in_background(create_gateway(store_a, upstream + "/v1", admin_token=ADMIN)) as a,
        run_in_background(create_gateway(store_b, upstream + "/v1", admin_token=ADMIN, clock=clock)) as b,
    ):
        assert httpx.post(a + "/v1/chat/completions", json=body, headers=auth).status_code == 200
        assert httpx.post(b + "/v1/chat/completions", json=body, headers=auth).status_code == 200
        change = {"state": "block", "reason": "seen on replica a"}
        assert httpx.put(a + "/admin/accounts/shared/state", json=change, headers=admin).status_code == 200
        assert httpx.post(b + "/v1/chat/completions", json=body, headers=auth).status_code == 200  # not yet
        clock.now += STATE_TTL_S + 0.1  # replica b re-reads states every STATE_TTL_S seconds
        assert httpx.post(b + "/v1/chat/completions", json=body, headers=auth).status_code == 403
        logs = httpx.get(b + "/admin/logs", params={"account": "shared"}, headers=admin).json()["data"]
    assert [r["status"] for r in logs][:2] == [200, 200] and logs[-1]["status"] == 403
    store_a.close()
    store_b.close()
