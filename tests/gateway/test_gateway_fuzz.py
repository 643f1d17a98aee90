"""Fuzz the gateway's OpenAPI schema with schemathesis: whatever is sent, no 5xx.

Every operation gets generated requests (valid and invalid), sent with a real account key (or the
admin token for /admin routes) to a gateway in front of a local tiny model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from distillab.db.store import Store
from distillab.gateway.app import create_gateway
from distillab.models.generate import Engine
from distillab.serving.app import create_app
from distillab.serving.background import run_in_background

ADMIN = "fuzz-admin-token"


@pytest.fixture(scope="module")
def target(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    store = Store(str(tmp_path_factory.mktemp("fuzz") / "gateway.db"))
    _, key = store.create_key("fuzzer", org="fuzz-org")
    app = create_gateway(store, create_app(Engine.load(tiny_model_dir), model_name="tiny"), admin_token=ADMIN)
    with run_in_background(app) as base:
        yield base, key
    store.close()


def test_no_server_errors(target: tuple[str, str]) -> None:
    base, key = target
    api = schemathesis.openapi.from_url(base + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/chat/completions", "/v1/completions", "/admin/keys"}
    for operation in operations:
        _fuzz(operation, base, ADMIN if operation.path.startswith("/admin") else key)


def _fuzz(operation: Any, base: str, token: str) -> None:
    """Hypothesis-generated requests to one operation: none may get a 5xx."""

    @given(case=operation.as_strategy())
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: Any) -> None:
        response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (case.method, case.path, case.body, response.text[:500])

    call()
