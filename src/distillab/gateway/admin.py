"""The admin API: accounts, keys, account states and the request log, behind a separate admin token.

Every route needs `Authorization: Bearer <admin token>` (compared in constant time). Without a
configured token the admin API is off and answers 403; API keys of accounts never open it.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from distillab.errors import DistillabError, RequestError


class NewKey(BaseModel):
    account: str = Field(min_length=1, max_length=200)
    org: str | None = Field(default=None, max_length=200)
    payment_id: str | None = Field(default=None, max_length=200)


class StateChange(BaseModel):
    state: Literal["allow", "throttle", "degrade", "block"]
    reason: str = Field(default="", max_length=2000)


def require_admin(request: Request) -> None:
    token: str | None = request.app.state.admin_token
    if not token:
        raise RequestError(
            "the admin API is disabled: start the gateway with an admin token",
            status=403,
            code="admin_disabled",
            type="permission_error",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise RequestError("admin token missing or wrong", status=401, code="invalid_admin_token")


def admin_router() -> APIRouter:
    router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)], tags=["admin"])

    @router.get("/accounts")
    async def accounts(request: Request) -> dict[str, Any]:
        found = await run_in_threadpool(request.app.state.store.list_accounts)
        return {"data": [_plain(a) for a in found]}

    @router.put("/accounts/{name}/state")
    async def set_state(name: str, change: StateChange, request: Request) -> dict[str, Any]:
        store = request.app.state.store
        try:
            await run_in_threadpool(store.set_state, name, change.state, change.reason, "admin")
        except DistillabError as exc:
            raise RequestError(str(exc), status=404, code="account_not_found") from exc
        request.app.state.relay.states.forget()  # this replica applies it at once
        return {"account": name, "state": change.state, "reason": change.reason}

    @router.get("/keys")
    async def keys(
        request: Request, account: str | None = Query(default=None, max_length=200)
    ) -> dict[str, Any]:
        found = await run_in_threadpool(request.app.state.store.list_keys, account)
        return {"data": [_plain(k) for k in found]}

    @router.post("/keys", status_code=201)
    async def create_key(new: NewKey, request: Request) -> dict[str, Any]:
        store = request.app.state.store
        try:
            info, secret = await run_in_threadpool(
                lambda: store.create_key(new.account, org=new.org, payment_id=new.payment_id)
            )
        except DistillabError as exc:  # e.g. a blank account name: the client's mistake, not ours
            raise RequestError(str(exc), status=400, param="account") from exc
        return {**_plain(info), "key": secret}

    @router.delete("/keys/{key_id}")
    async def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
        if not await run_in_threadpool(request.app.state.store.revoke_key, key_id):
            raise RequestError(f"no key {key_id!r}", status=404, code="key_not_found")
        request.app.state.relay.keys.forget(key_id)  # this replica refuses it at once
        return {"key_id": key_id, "revoked": True}

    @router.get("/logs")
    async def logs(
        request: Request,
        account: str | None = Query(default=None, max_length=200),
        limit: int = Query(default=100, ge=1, le=10_000),
    ) -> dict[str, Any]:
        store = request.app.state.store
        return {"data": await run_in_threadpool(lambda: store.tail_logs(limit, account=account))}

    return router


def _plain(obj: Any) -> dict[str, Any]:
    data = asdict(obj) if hasattr(obj, "__dataclass_fields__") else dict(obj)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
