"""A harvest directory from answers obtained some other way (a dataset of reference answers, responses a
client recorded), in exactly the layout `distillab generate` writes, so `distillab train` and the prove
commands read it like any other:

    rows = [PromptRow([{"role": "user", "content": "2 + 3?"}], "p1", "mine.jsonl:1")]
    answers = [Generation([Sample("2 + 3 = 5. Answer: 5", "stop")], prompt_tokens=0, completion_tokens=9)]
    write_harvest(Path("runs/reference"), rows, answers, teacher="reference answers", terms="our own data")

The Parquet file and the manifest are written to temporary names and renamed into place, the manifest
last: a killed write leaves no directory that looks finished.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from distillab import __version__
from distillab.data import manifest as mf
from distillab.data.prompts import PromptRow
from distillab.data.records import FORMAT_VERSION, build_records, to_table
from distillab.data.store import DATA_FILE
from distillab.errors import ConfigError
from distillab.teacher.base import Generation


def write_harvest(
    out: Path,
    rows: Sequence[PromptRow],
    answers: Sequence[Generation],
    *,
    teacher: str,
    terms: str,
    params: dict[str, Any] | None = None,
    endpoint: str = "",
    notes: Sequence[str] = (),
) -> int:
    """Write one record per sample of `answers[i]` (the answer to `rows[i]`) to `out`; returns how many.

    The signal mode in the manifest is `topk` when any sample carries top-k log-probabilities, else `text`.
    An existing harvest in `out` is replaced.
    """
    if len(rows) != len(answers):
        raise ConfigError(f"{out}: {len(rows)} prompts but {len(answers)} answers")
    params = dict(params or {})
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row, answer in zip(rows, answers):
        # The same prompt asked twice gets sample indices 0, 1, ...: both answers are kept.
        key = row.id or repr(row.input)
        first = seen.get(key, 0)
        indices = list(range(first, first + len(answer.samples)))
        seen[key] = first + len(answer.samples)
        records += build_records(row, teacher, params, indices, answer)
    top_k = max((len(s.top_logprobs[0]) for a in answers for s in a.samples if s.top_logprobs), default=0)
    ids = any(s.token_ids is not None for a in answers for s in a.samples)
    mode = "topk" if top_k else "text"
    out.mkdir(parents=True, exist_ok=True)
    mf.remove_harvest(out)
    final = out / DATA_FILE
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    pq.write_table(to_table(records), tmp, compression="zstd")
    os.replace(tmp, final)
    identity = {"teacher": teacher, "params": params, "mode": mode}
    description = (
        f"top-{top_k} log-probabilities" + (" with token ids" if ids else "")
        if top_k
        else "text only (no log-probabilities)"
    )
    mf.finish(
        out,
        {
            "format_version": FORMAT_VERSION,
            "distillab_version": __version__,
            "identity": identity,
            "teacher": {
                "name": teacher,
                "endpoint": endpoint,
                "capabilities": {"mode": mode, "top_k": top_k, "token_ids": ids, "description": description},
            },
            "params": params,
            "counts": {
                "prompts": len(rows),
                "records": len(records),
                "new_records": len(records),
                "failed": 0,
            },
            "tokens": {
                "prompt": sum(a.prompt_tokens for a in answers),
                "completion": sum(a.completion_tokens for a in answers),
            },
            "terms": terms,
            "notices": list(notes),
            "complete": True,
            "created": mf.now_iso(),
            "finished": mf.now_iso(),
        },
    )
    return len(records)
