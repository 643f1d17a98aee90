"""The gateway's tables, and how a request-log record maps to a `requests` row and back.

Times are epoch seconds (floats). `messages`, `prompt` and `params` are stored as JSON text, so a prompt
keeps its type (string or list) and messages keep every key the client sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from distillab.errors import DataError

STATES = ("allow", "throttle", "degrade", "block")
"""Account states, mildest first: the detector only ever raises a state along this order."""

JSON_FIELDS = ("messages", "prompt", "params")
_REQUIRED = ("ts", "endpoint", "status")
# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL logs may outgrow 32 bits.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("org", sa.String),
    sa.Column("payment_id", sa.String),
    sa.Column("state", sa.String, nullable=False, server_default="allow"),
    sa.Column("state_reason", sa.Text),
    sa.Column("state_by", sa.String),
    sa.Column("state_changed", sa.Double),
    sa.Column("created", sa.Double, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String, primary_key=True),
    sa.Column("account", sa.String, sa.ForeignKey("accounts.name"), nullable=False, index=True),
    sa.Column("salt", sa.LargeBinary, nullable=False),
    sa.Column("hash", sa.LargeBinary, nullable=False),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("revoked_at", sa.Double),
    sa.Column("last4", sa.String, nullable=False),
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Double, nullable=False, index=True),
    # No foreign key: requests that failed authentication are logged too, with account NULL.
    sa.Column("account", sa.String),
    sa.Column("key_id", sa.String),
    sa.Column("ip", sa.String),
    sa.Column("user_agent", sa.Text),
    sa.Column("org", sa.String),
    sa.Column("payment_id", sa.String),
    sa.Column("endpoint", sa.String, nullable=False),
    sa.Column("model", sa.String),
    sa.Column("messages", sa.Text),
    sa.Column("prompt", sa.Text),
    sa.Column("params", sa.Text),
    sa.Column("response", sa.Text),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("completion_tokens", sa.Integer),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Double),
    sa.Column("decision", sa.String),
    sa.Column("reason", sa.Text),
    sa.Index("ix_requests_account_id", "account", "id"),
)
LOG_FIELDS = tuple(c.name for c in requests.columns)
AUDIT_FIELDS = ("id", "decision", "reason")
"""The gateway's own columns of a log row: a log from elsewhere (or `distillab simulate`) has the rest."""
RECORD_FIELDS = tuple(f for f in LOG_FIELDS if f not in AUDIT_FIELDS)
_ARROW_TYPES = {"id": "int64", "ts": "float64", "latency_ms": "float64", "status": "int32"}
_ARROW_TYPES |= {"prompt_tokens": "int64", "completion_tokens": "int64"}


def log_parquet_schema(*, audited: bool = True) -> Any:
    """The request log's flat Parquet schema (`distillab logs export`; with `audited=False`, the columns
    of a log without the gateway's id and decisions, as `distillab simulate` writes). `messages`,
    `prompt` and `params` are JSON text: their shapes vary per request."""
    import pyarrow as pa

    fields = LOG_FIELDS if audited else RECORD_FIELDS
    return pa.schema([(f, pa.type_for_alias(_ARROW_TYPES.get(f, "string"))) for f in fields])


decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("account", sa.String, sa.ForeignKey("accounts.name"), nullable=False, index=True),
    sa.Column("decision", sa.String, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("by", sa.String),
)

followers = sa.Table(
    "followers",
    metadata,
    # One row per detector follower (`distillab detect-follow --name`): where it is in the request log
    # and its folded state, written together in one transaction, so a restart resumes exactly there.
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("gaps", sa.Text, nullable=False),
    sa.Column("folded", sa.BigInteger, nullable=False),
    sa.Column("fingerprint", sa.String, nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("saved", sa.Double, nullable=False),
)


@dataclass(frozen=True)
class FollowerCheckpoint:
    """A `followers` row: a detector follower's place in the request log and its folded state."""

    name: str
    position: int
    """The highest request-log id read."""
    gaps: list[tuple[int, int, float]]
    """Ids at or below `position` not read yet, as inclusive ranges with the epoch time each was first
    seen missing: rows still being committed there are read when they appear."""
    folded: int
    """Records folded in all."""
    fingerprint: str
    """What the state was folded with (reference, indicators): another one cannot continue it."""
    state: bytes
    saved: float


def to_row(record: dict[str, Any]) -> dict[str, Any]:
    """A `requests` row for a log record; DataError for unknown or missing fields."""
    # Unknown fields are refused rather than dropped: a log that silently loses data is worse than an error.
    unknown = sorted(set(record) - set(LOG_FIELDS) - {"id"})
    missing = [name for name in _REQUIRED if record.get(name) is None]
    if unknown or missing:
        problems = ([f"unknown fields {unknown}"] if unknown else []) + (
            [f"missing {missing}"] if missing else []
        )
        raise DataError(f"request-log record: {'; '.join(problems)}")
    row = {name: record.get(name) for name in LOG_FIELDS if name != "id"}
    for name in JSON_FIELDS:
        if row[name] is not None:
            row[name] = json.dumps(row[name], ensure_ascii=False, separators=(",", ":"))
    return row


def from_row(row: Any) -> dict[str, Any]:
    """The log record (JSON fields decoded) for a `requests` row (all its columns, or some)."""
    record = dict(row)
    for name in JSON_FIELDS:
        if record.get(name) is not None:
            try:
                record[name] = json.loads(record[name])
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"request log row id={record['id']}: field {name} is not JSON ({exc})"
                ) from None
    return record
