"""`manifest.json`: where a harvest came from and what it cost, written last and atomically.

The *identity* of a harvest (teacher name, sampling params, signal mode) decides whether a rerun into
the same directory is a resume or a different harvest. It is stored in the journal directory when a
harvest starts and in the manifest when it ends, so a killed harvest is recognised too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distillab.data.journal import fsync_dir, journal_dir
from distillab.errors import ConfigError, DataError

MANIFEST = "manifest.json"
IDENTITY = "harvest.json"
TOKENIZER = "tokenizer"
"""Where a harvest keeps a copy of its local teacher's tokenizer (training reads token ids with it)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write to a temporary file, fsync, rename: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from exc


def read_manifest(out: str | Path) -> dict[str, Any]:
    return dict(_read_json(Path(out) / MANIFEST))


def stored_identity(out: Path) -> dict[str, Any] | None:
    """Identity of the harvest already in `out`, if any (the running one's if it was interrupted)."""
    for path in (journal_dir(out) / IDENTITY, out / MANIFEST):
        if path.exists():
            return dict(_read_json(path)["identity"])
    return None


def check_identity(out: Path, identity: dict[str, Any], overwrite: bool) -> None:
    """Refuse to mix records of different harvests in one directory, unless told to replace them."""
    old = stored_identity(out)
    if old is None or old == identity:
        return
    if overwrite:
        remove_harvest(out)
        return
    diffs = [
        f"{key}: {old.get(key)!r} -> {identity.get(key)!r}"
        for key in sorted(set(old) | set(identity))
        if old.get(key) != identity.get(key)
    ]
    raise ConfigError(
        f"{out} holds a harvest from a different teacher or params ({'; '.join(diffs)}); "
        "use another --out, or --overwrite to replace it"
    )


def remove_harvest(out: Path) -> None:
    """Delete only what a harvest writes; anything else the user keeps in `out` stays."""
    shutil.rmtree(journal_dir(out), ignore_errors=True)
    shutil.rmtree(out / "data", ignore_errors=True)
    shutil.rmtree(out / TOKENIZER, ignore_errors=True)
    (out / MANIFEST).unlink(missing_ok=True)


def start(out: Path, identity: dict[str, Any]) -> None:
    """Record the running harvest's identity before the first request (keeping its first start time)."""
    journal_dir(out).mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f".{MANIFEST}.*.tmp"):  # left by a manifest write that was killed
        stale.unlink()
    path = journal_dir(out) / IDENTITY
    if not path.exists():
        write_json_atomic(path, {"identity": identity, "started": started_at(out)})


def started_at(out: Path) -> str:
    """When the harvest in `out` first started (kept across resumes)."""
    for path, key in ((journal_dir(out) / IDENTITY, "started"), (out / MANIFEST, "created")):
        if path.exists():
            return str(_read_json(path).get(key) or now_iso())
    return now_iso()


def save_tokenizer(out: Path, tokenizer: Any) -> dict[str, Any] | None:
    """Save the teacher's tokenizer (a local teacher's; None for an endpoint) into ``out/tokenizer``.

    Records hold token ids; a student with another tokenizer needs the teacher's to turn them into text
    (cross-tokenizer distillation). Returns the manifest's ``teacher.tokenizer`` entry.
    """
    if tokenizer is None:
        return None
    tokenizer.save_pretrained(out / TOKENIZER)
    vocab = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
    return {
        "path": TOKENIZER,
        "size": len(tokenizer),
        "vocab_sha256": hashlib.sha256(vocab.encode()).hexdigest(),
    }


def finish(out: Path, manifest: dict[str, Any]) -> None:
    write_json_atomic(out / MANIFEST, manifest)
