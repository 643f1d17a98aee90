"""Fixtures for serving tests: one engine on the tiny model, and the real app served by uvicorn.

Other test packages can serve a model the same way:

    with run_in_background(create_app(Engine.load(tiny_model_dir), model_name="tiny")) as base_url:
        client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused")
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from distillab.models import Engine
from distillab.models.running import RunningBatch
from distillab.serving import create_app, run_in_background


@dataclass
class Server:
    base_url: str
    """http://127.0.0.1:PORT (append /v1 for the OpenAI client)."""
    app: FastAPI

    @property
    def batch(self) -> RunningBatch:
        """The server's running batch (its `steps` and `row_steps` count the decoding work)."""
        return self.app.state.serving.batcher.running


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path) -> Engine:
    return Engine.load(tiny_model_dir)


@pytest.fixture(scope="session")
def server(engine: Engine) -> Iterator[Server]:
    app = create_app(engine, model_name="tiny", max_batch=16, batch_window_ms=10)
    with run_in_background(app) as base_url:
        yield Server(base_url, app)
