"""`distillab keys` and `distillab logs export`: end to end in a subprocess, details in-process via main().

Each `python -m distillab.cli.main` start costs seconds (it imports every command group), so only the
central path runs as real subprocesses; the rest calls the same `main()` in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from distillab.cli.main import main
from distillab.gateway import Store


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "distillab.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _done(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def _main(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """Run `distillab ARGS` in-process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["distillab", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_create_list_revoke_in_subprocesses(tmp_path: Path) -> None:
    db = str(tmp_path / "gateway.db")
    code, out, err = _done(
        _cli("keys", "create", "--db", db, "--account", "acme", "--org", "acme-inc", "--payment-id", "cus_1")
    )
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("dl-") and "\n" not in secret  # stdout is the secret alone, for $(...)
    assert "will not be shown again" in err and secret not in err

    # Started together: each start costs seconds.
    listing, revoking = _cli("keys", "list", "--db", db), _cli("keys", "revoke", "--db", db, "ffffffffffff")
    (code, out, err), (revoke_code, _, revoke_err) = _done(listing), _done(revoking)
    assert code == 0, err
    assert secret[3:15] in out and "acme" in out and "active" in out
    random_part = secret[16:]
    for i in range(len(random_part) - 8):
        assert random_part[i : i + 9] not in out + err
    assert revoke_code == 1
    assert "error: no key 'ffffffffffff'" in revoke_err and "Traceback" not in revoke_err

    with Store(db) as store:
        info = store.verify_key(secret)
        assert info is not None and not info.revoked and info.org == "acme-inc"


def test_keys_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "gateway.db")
    code, acme_secret, err = _main(capsys, monkeypatch, "keys", "create", "--db", db, "--account", "acme")
    assert code == 0 and "not be shown again" in err
    monkeypatch.setenv("DISTILLAB_DB", db)  # the default --db
    code, bob_secret, _ = _main(capsys, monkeypatch, "keys", "create", "--account", "bob")
    assert code == 0
    acme_id, bob_id = acme_secret.strip()[3:15], bob_secret.strip()[3:15]

    code, out, _ = _main(capsys, monkeypatch, "keys", "revoke", acme_id)
    assert code == 0
    code, out, err = _main(capsys, monkeypatch, "keys", "list", "--account", "acme")
    assert code == 0 and acme_id in out and "revoked" in out and bob_id not in out and "1 key(s)" in err
    code, out, _ = _main(capsys, monkeypatch, "keys", "list")
    assert code == 0 and acme_id in out and bob_id in out
    assert acme_secret.strip() not in out and bob_secret.strip() not in out
    with Store(db) as store:
        assert store.verify_key(acme_secret.strip()).revoked  # type: ignore[union-attr]
        assert not store.verify_key(bob_secret.strip()).revoked  # type: ignore[union-attr]

    code, _, err = _main(capsys, monkeypatch, "keys", "create", "--account", "")
    assert code == 1 and "error: account name must not be empty" in err


def test_default_db_and_missing_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISTILLAB_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = _main(capsys, monkeypatch, "keys", "list")
    assert code == 1 and "error: no database at" in err and "distillab.db" in err
    assert not (tmp_path / "distillab.db").exists()  # listing never creates an empty store
    code, _, err = _main(capsys, monkeypatch, "keys", "create", "--account", "acme")
    assert code == 0 and (tmp_path / "distillab.db").exists()
    code, _, err = _main(capsys, monkeypatch, "keys", "list", "--db", "postgresql://gw:pw@db:bad/x")
    assert code == 1 and "error: invalid database URL" in err and ":pw@" not in err


def test_logs_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "gateway.db")
    with Store(db) as store:
        for i, account in enumerate(["acme", "bob", "acme"]):
            store.log_request(
                {
                    "ts": 1_700_000_000.0 + i,
                    "account": account,
                    "endpoint": "/v1/completions",
                    "model": "teacher",
                    "prompt": f"p{i}",
                    "params": {"max_tokens": 8},
                    "status": 200,
                    "decision": "allow",
                }
            )
    out = tmp_path / "acme.jsonl"
    code, _, err = _main(
        capsys, monkeypatch, "logs", "export", "--db", db, "--out", str(out), "--account", "acme"
    )
    assert code == 0 and "exported 2 request(s)" in err
    assert [json.loads(line)["prompt"] for line in out.read_text().splitlines()] == ["p0", "p2"]
    code, _, err = _main(
        capsys, monkeypatch, "logs", "export", "--db", db, "--out", str(tmp_path / "all.parquet")
    )
    assert code == 0 and "exported 3 request(s)" in err

    code, _, err = _main(
        capsys, monkeypatch, "logs", "export", "--db", db, "--out", str(tmp_path / "log.csv")
    )
    assert code == 1 and "error:" in err and "log.csv" in err
    assert not (tmp_path / "log.csv").exists()
