"""Run an ASGI app with uvicorn in a background thread: for tests, the demo, and notebooks.

    with run_in_background(create_app(engine)) as base_url:
        client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused")

The socket is bound before the server starts, so port 0 (any free port) has no race with other tests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from distillab.errors import DistillabError


@contextmanager
def run_in_background(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, startup_timeout_s: float = 30.0
) -> Iterator[str]:
    """Serve `app` until the block exits; yields the base URL ("http://HOST:PORT", without /v1)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="distillab-uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise DistillabError(f"the server on {host}:{bound_port} did not start")
        time.sleep(0.01)
    try:
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
