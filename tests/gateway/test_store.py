"""The gateway store on SQLite and PostgreSQL: keys, policy states, the request log and its export."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from distillab.db.request_log import tail_query
from distillab.db.schema import decisions, metadata
from distillab.db.store import database_url
from distillab.errors import ConfigError, DataError, DistillabError
from distillab.gateway import Store, export_logs


def _records() -> list[dict[str, Any]]:
    base = {
        "ip": "10.0.0.7",
        "user_agent": "openai-python/1.40",
        "org": "acme-inc",
        "payment_id": "cus_1",
        "response": None,
        "prompt_tokens": None,
        "completion_tokens": None,
        "latency_ms": None,
        "decision": "allow",
        "reason": None,
        "messages": None,
        "prompt": None,
        "params": None,
    }
    return [
        {
            **base,
            "ts": 1_700_000_000.25,
            "account": "acme",
            "key_id": "0123456789ab",
            "endpoint": "/v1/chat/completions",
            "model": "teacher",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "2 + 3 = ? é✓"},
            ],
            "params": {"temperature": 0.7, "max_tokens": 32, "logprobs": True, "top_logprobs": 5},
            "response": "5",
            "prompt_tokens": 12,
            "completion_tokens": 1,
            "status": 200,
            "latency_ms": 41.5,
        },
        {
            **base,
            "ts": 1_700_000_001.5,
            "account": "acme",
            "key_id": "0123456789ab",
            "endpoint": "/v1/completions",
            "model": "teacher",
            "prompt": "Once upon a time",
            "params": {"n": 4, "stop": ["\n"]},
            "status": 429,
            "decision": "rate_limited",
            "reason": "rpm 60",
        },
        {
            **base,
            "ts": 1_700_000_002.0,
            "account": "bob",
            "key_id": "ba9876543210",
            "org": None,
            "payment_id": None,
            "endpoint": "/v1/completions",
            "model": "teacher",
            "prompt": ["a", "b"],
            "params": {},
            "response": "c",
            "status": 200,
            "decision": "degrade",
            "reason": "campaign c-17",
        },
        {
            **base,
            "ts": 1_700_000_003.0,
            "account": None,
            "key_id": None,
            "org": None,
            "payment_id": None,
            "endpoint": "/v1/chat/completions",
            "model": None,
            "status": 401,
            "decision": "unauthorized",
        },
    ]


def _strip_ids(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "id"} for r in records]


@contextmanager
def _closed_port() -> Iterator[int]:
    """A local TCP port nothing listens on (bound without listen(), so nobody else takes it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _as_text(value: Any) -> str:
    return f"{value.hex()} {value.decode('latin-1')}" if isinstance(value, bytes) else str(value)


# -- keys ------------------------------------------------------------------------------------------------


def test_key_round_trip(store: Store) -> None:
    before = time.time()
    info, secret = store.create_key("acme", org="acme-inc", payment_id="cus_1")
    after = time.time()
    assert re.fullmatch(r"dl-[0-9a-f]{12}\.[A-Za-z0-9_-]{43}", secret)
    assert secret.startswith(f"dl-{info.key_id}.") and info.last4 == secret[-4:]
    assert (info.account, info.org, info.payment_id, info.revoked) == ("acme", "acme-inc", "cus_1", False)
    assert before <= info.created <= after  # stamped when made
    assert store.verify_key(secret) == info
    assert store.list_keys() == [info] and store.list_keys("acme") == [info] and store.list_keys("bob") == []
    [account] = store.list_accounts()
    assert (account.name, account.org, account.payment_id, account.state) == (
        "acme",
        "acme-inc",
        "cus_1",
        "allow",
    )


def test_second_key_updates_only_given_account_fields(store: Store) -> None:
    first, _ = store.create_key("acme", org="acme-inc")
    second, secret = store.create_key("acme", payment_id="cus_9")
    assert (second.org, second.payment_id) == ("acme-inc", "cus_9")
    assert first.key_id != second.key_id
    assert [k.key_id for k in store.list_keys("acme")] == [first.key_id, second.key_id]
    assert store.verify_key(secret) == second
    with pytest.raises(ConfigError, match="empty"):
        store.create_key(" ")


def test_wrong_and_malformed_keys_are_refused(store: Store) -> None:
    _, secret = store.create_key("acme")
    other_info, other = store.create_key("bob")
    key_id, random_part = secret[3:15], secret[16:]
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in [
        "",
        "garbage",
        "Bearer " + secret,
        secret + "x",
        secret[:-1],
        flipped,
        secret.upper(),
        f"dl-{key_id}.",
        f"dl-{key_id}",
        f"dl-{other_info.key_id}.{random_part}",
        f"dl-{'f' * 12}.{random_part}",
        f"sk-{key_id}.{random_part}",
        secret.replace(".", "_"),
        " " + secret,
    ]:
        assert store.verify_key(bad) is None, bad
    assert store.verify_key(None) is None  # type: ignore[arg-type]
    assert store.verify_key(other) == other_info


def test_revoked_key_is_flagged_and_revoke_is_idempotent(store: Store) -> None:
    info, secret = store.create_key("acme")
    _, kept = store.create_key("acme")
    assert store.revoke_key(info.key_id) is True
    verified = store.verify_key(secret)
    assert verified is not None and verified.revoked and verified.key_id == info.key_id
    assert store.revoke_key(info.key_id) is True
    assert store.revoke_key("ffffffffffff") is False
    assert [k.revoked for k in store.list_keys("acme")] == [True, False]
    kept_info = store.verify_key(kept)
    assert kept_info is not None and not kept_info.revoked


def _windows(secret: str, size: int = 9) -> list[str]:
    random_part = secret.split(".", 1)[1]
    return [random_part[i : i + size] for i in range(len(random_part) - size + 1)]


def test_secret_never_reaches_the_database(store: Store, store_url: str) -> None:
    secrets = [store.create_key(f"acct{i}", org="o")[1] for i in range(3)]
    store.revoke_key(secrets[0][3:15])
    with store.engine.connect() as conn:
        dump = " ".join(
            _as_text(value)
            for table in metadata.sorted_tables
            for row in conn.execute(sa.select(table))
            for value in row
        )
    files = b""
    if not store_url.startswith("postgresql"):
        files = b"".join(p.read_bytes() for p in Path(store_url).parent.glob(Path(store_url).name + "*"))
        assert files
    for secret in secrets:
        for piece in [secret] + _windows(secret):
            assert piece not in dump, piece
            assert piece.encode() not in files, piece


def test_two_stores_share_one_database(store_url: str) -> None:
    """Two gateway replicas (two Store objects, two connection pools) see each other's writes."""
    a, b = Store(store_url), Store(store_url)
    try:
        info, secret = a.create_key("acme", org="acme-inc")
        assert b.verify_key(secret) == info
        b.set_state("acme", "throttle", "too fast", "admin")
        assert a.get_state("acme") == ("throttle", "too fast") and a.states() == {"acme": "throttle"}
        assert b.revoke_key(info.key_id)
        assert a.verify_key(secret).revoked  # type: ignore[union-attr]

        record = _records()[0]

        def write(store: Store) -> None:
            for _ in range(10):
                store.log_request(record)

        threads = [threading.Thread(target=write, args=(s,)) for s in (a, b, a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(list(a.iter_logs())) == len(list(b.iter_logs())) == 40
    finally:
        a.close()
        b.close()


def test_concurrent_first_open_creates_tables_once(tmp_path: Path) -> None:
    # Racing first opens once failed about 1 time in 12 ("database is locked" from switching to WAL),
    # so race 40 fresh files.
    errors: list[Exception] = []

    def open_store(path: Path) -> None:
        try:
            Store(path).close()
        except Exception as exc:  # collected and reported below
            errors.append(exc)

    for attempt in range(40):
        path = tmp_path / f"fresh{attempt}.db"
        threads = [threading.Thread(target=open_store, args=(path,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"attempt {attempt}"
        with Store(path) as store:
            assert store.list_accounts() == []


def test_sqlite_connections_are_wal_full_sync_with_busy_timeout(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'g.db'}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_without_fsync_commits_do_not_wait_for_the_disk_but_still_commit(store_url: str) -> None:
    with Store(store_url, fsync=False) as store:
        store.log_request(_records()[0])
        with store.engine.connect() as conn:
            if store.dialect == "sqlite":
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            else:
                assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    with Store(store_url) as store:  # another process sees the record; the default waits for the disk
        assert len(list(store.iter_logs())) == 1
        with store.engine.connect() as conn:
            setting = "PRAGMA synchronous" if store.dialect == "sqlite" else "SHOW synchronous_commit"
            assert conn.exec_driver_sql(setting).scalar() in (2, "on")


# -- policy state --------------------------------------------------------------------------------------


def test_set_state_records_a_decision(store: Store) -> None:
    store.create_key("acme")
    store.create_key("bob")
    assert store.get_state("acme") == ("allow", None)
    store.set_state("acme", "degrade", "campaign c-17", "detector")
    store.set_state("acme", "block", None, "admin")
    assert store.get_state("acme") == ("block", None)
    assert store.states() == {"acme": "block", "bob": "allow"}
    [acme, bob] = store.list_accounts()
    assert (acme.state, bob.state) == ("block", "allow")
    with pytest.raises(ConfigError, match="allow, throttle, degrade, block"):
        store.set_state("acme", "banish", None, "admin")
    with pytest.raises(DataError, match="nobody"):
        store.set_state("nobody", "block", None, "admin")
    with pytest.raises(DataError, match="nobody"):
        store.get_state("nobody")
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(decisions.c.account, decisions.c.decision, decisions.c.reason, decisions.c.by).order_by(
                decisions.c.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("acme", "degrade", "campaign c-17", "detector"),
        ("acme", "block", None, "admin"),
    ]


# -- request log ---------------------------------------------------------------------------------------


def test_log_round_trip(store: Store) -> None:
    records = _records()
    store.log_request(records[0])
    store.log_requests(records[1:])
    logged = list(store.iter_logs())
    assert _strip_ids(logged) == records
    ids = [r["id"] for r in logged]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert list(store.iter_logs(batch=1)) == logged == list(store.iter_logs(batch=3))
    assert _strip_ids(list(store.iter_logs(account="acme", batch=1))) == records[:2]
    assert _strip_ids(list(store.iter_logs(since=1_700_000_001.5))) == records[1:]
    assert list(store.iter_logs(account="acme", since=1_700_000_002)) == []


def test_the_log_tail_is_the_newest_rows_read_by_index(store: Store) -> None:
    records = [
        {**_records()[0], "account": ("acme", "bob", "carl")[i % 3], "ts": 1_700_000_000 + i}
        for i in range(30)
    ]
    store.log_requests(records)
    logged = list(store.iter_logs())
    assert store.tail_logs(5) == logged[-5:]
    assert store.tail_logs(4, account="bob") == [r for r in logged if r["account"] == "bob"][-4:]
    assert store.tail_logs(100, account="acme") == [r for r in logged if r["account"] == "acme"]
    assert store.tail_logs(3, account="nobody") == []
    if store.dialect == "sqlite":  # a backward walk of an index that stops after `limit` rows: no sort
        with store.engine.connect() as conn:
            for query, index in ((tail_query(5, "bob"), "ix_requests_account_id"), (tail_query(5), "")):
                compiled = query.compile(store.engine, compile_kwargs={"literal_binds": True})
                plan = " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
                assert "TEMP B-TREE" not in plan and index in plan, plan


def test_bad_log_records_are_refused_whole(store: Store) -> None:
    good = _records()[0]
    with pytest.raises(DataError, match="unknown fields.*secret"):
        store.log_requests([good, {**good, "secret": "x"}])
    with pytest.raises(DataError, match="missing.*status"):
        store.log_request({**good, "status": None})
    assert list(store.iter_logs()) == []


def test_export_jsonl_and_parquet(tmp_path: Path) -> None:
    import datasets

    records = _records()
    with Store(tmp_path / "g.db") as store:
        store.log_requests(records)
        assert export_logs(store, tmp_path / "log.jsonl") == 4
        assert export_logs(store, tmp_path / "log.parquet") == 4
        assert export_logs(store, tmp_path / "acme.parquet", account="acme") == 2
        assert export_logs(store, tmp_path / "none.parquet", account="nobody") == 0

    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert _strip_ids(lines) == records
    rows = pq.read_table(tmp_path / "log.parquet").to_pylist()
    for row in rows:
        for name in ("messages", "prompt", "params"):
            row[name] = None if row[name] is None else json.loads(row[name])
    assert rows == lines
    assert [r["account"] for r in pq.read_table(tmp_path / "acme.parquet").to_pylist()] == ["acme", "acme"]
    assert pq.read_table(tmp_path / "none.parquet").num_rows == 0

    cache = str(tmp_path / "hf-cache")
    from_json = datasets.load_dataset(
        "json", data_files=str(tmp_path / "log.jsonl"), split="train", cache_dir=cache
    )
    from_parquet = datasets.load_dataset(
        "parquet", data_files=str(tmp_path / "log.parquet"), split="train", cache_dir=cache
    )
    assert from_json.num_rows == from_parquet.num_rows == 4
    assert from_json[0]["messages"] == records[0]["messages"]
    assert json.loads(from_parquet[0]["messages"]) == records[0]["messages"]
    assert from_parquet["status"] == [200, 429, 200, 401]


def test_export_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(tmp_path / "g.db") as store:
        store.log_requests(_records())
        before = sorted(p.name for p in tmp_path.iterdir())
        for bad in ("log.csv", "log", "log.json"):
            with pytest.raises(ConfigError, match=re.escape(bad)):
                export_logs(store, tmp_path / bad)
        with pytest.raises(ConfigError, match="does not exist"):
            export_logs(store, tmp_path / "missing" / "log.jsonl")
        assert sorted(p.name for p in tmp_path.iterdir()) == before

        out = tmp_path / "log.parquet"
        out.write_bytes(b"old")

        def broken(**_kwargs: Any) -> Any:
            yield _records()[0] | {"id": 1}
            raise DataError("disk went away")

        monkeypatch.setattr(store, "iter_logs", broken)
        for name in ("log.parquet", "log.jsonl"):
            with pytest.raises(DataError, match="went away"):
                export_logs(store, tmp_path / name)
        assert out.read_bytes() == b"old"
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["log.parquet"])


# -- opening -------------------------------------------------------------------------------------------


def test_database_urls() -> None:
    assert database_url("gw.db").drivername == "sqlite" and database_url("gw.db").database.endswith("/gw.db")
    assert database_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert database_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("sqlite:////tmp/x.db").database == "/tmp/x.db"


def test_bad_databases_give_clear_errors(tmp_path: Path) -> None:
    with _closed_port() as port, pytest.raises(DistillabError) as caught:
        Store(f"postgresql://gw:s3cret-pw@127.0.0.1:{port}/gateway?connect_timeout=5")
    message = str(caught.value)
    assert "s3cret-pw" not in message and f"gw:***@127.0.0.1:{port}/gateway" in message
    with pytest.raises(ConfigError, match="only SQLite and PostgreSQL"):
        Store("mysql://gw:s3cret-pw@db/gateway")
    with pytest.raises(ConfigError, match="does not exist"):
        Store(tmp_path / "no" / "such" / "dir.db")
    with pytest.raises(ConfigError, match="no database at"):
        Store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(ConfigError) as caught:
        Store("postgresql://gw:s3cret-pw@db:notaport/gateway")
    assert "s3cret-pw" not in str(caught.value)


def test_a_log_connection_that_died_is_replaced_and_the_write_kept(store: Store) -> None:
    record = {"ts": 1.0, "endpoint": "/v1/completions", "status": 200, "account": "a"}
    store.log_requests([record])
    store._log_conn.dbapi_connection.close()  # the kept connection dies under the store (as a lost one does)
    store.log_requests([record, record])  # written on a fresh connection, once
    assert [r["account"] for r in store.iter_logs()] == ["a", "a", "a"]


def test_a_failed_log_write_stores_nothing_and_the_next_one_works(store: Store) -> None:
    good = {"ts": 1.0, "endpoint": "/v1/completions", "status": 200, "account": "a"}
    with pytest.raises(
        Exception, match="parameter|adapt"
    ):  # the second row cannot be stored: the whole write fails
        store.log_requests([good, {**good, "ts": 2.0, "latency_ms": object()}])
    store.log_requests([good])
    assert [r["ts"] for r in store.iter_logs()] == [1.0]


@pytest.mark.slow  # PostgreSQL
def test_a_database_gone_under_the_store_is_a_store_error(postgres_server: Callable[[str], str]) -> None:
    import uuid

    from distillab.errors import StoreError

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    record = {"ts": 1.0, "endpoint": "/v1/completions", "status": 200, "account": "a"}
    store = Store(postgres_server(name))
    try:
        store.log_requests([record])
        with admin.connect() as conn:  # its connections are cut, and it cannot connect again
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        with pytest.raises(StoreError, match=f"request log .*{name}.*: the database is unavailable"):
            store.log_requests([record])
    finally:
        store.close()
        admin.dispose()


def test_a_nul_in_a_logged_text_is_kept_or_on_postgresql_replaced(store: Store) -> None:
    record = {
        "ts": 1.0,
        "endpoint": "/v1/completions",
        "status": 200,
        "account": "a",
        "model": "m\x00x",
        "response": "ok\x00",
        "prompt": "p\x00",
    }
    store.log_requests([record])  # PostgreSQL text cannot hold NUL: refused before, as every row of its batch
    (stored,) = store.iter_logs()
    nul = "\ufffd" if store.dialect == "postgresql" else "\x00"
    assert (stored["model"], stored["response"], stored["prompt"]) == (f"m{nul}x", f"ok{nul}", "p\x00")
