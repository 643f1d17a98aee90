"""New prompts written by a teacher (Magpie or self-instruct), asked through the harvest machinery.

    result = run_synthesis(SynthesizeConfig(teacher="runs/teacher", method="magpie", count=200,
                                            out=Path("runs/prompts/magpie")))

The requests go to `OUT/requests.jsonl` and are harvested into `OUT/harvest/` by `distillab.data.harvest`,
the code `distillab generate` runs: --rpm/--tpm, retries, --budget-usd and the teacher's --terms apply,
and a killed run resumes from its journal when the same command is run again, asking nothing twice
(except requests in flight at the kill). Magpie asks one prompt `count` times, one sample per request
(sample i drawn with seed + i when --seed is set); self-instruct asks `count` distinct requests once.
Then every answer in `OUT/harvest/` is read back, samples cut off by --max-tokens are dropped
(`unfinished`), and the rest go through the filters (self-instruct also drops copies of its seeds) into
`OUT/prompts.jsonl` and `OUT/manifest.json`. Seeds, held-out files and the checker are read and checked
before the teacher is loaded, so bad input costs nothing and writes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

from rich.console import Console

from distillab.atomic import write_text
from distillab.data import manifest as mf
from distillab.data.config import HarvestConfig, HarvestSettings
from distillab.data.harvest import HarvestResult, harvest
from distillab.data.promptgen import self_instruct
from distillab.data.promptgen.config import SynthesizeConfig
from distillab.data.promptgen.filtering import (
    PromptSetResult,
    apply_filters,
    filter_manifest,
    language_of,
    load_checker,
    read_heldout,
)
from distillab.data.promptgen.rows import (
    PromptRecord,
    Provenance,
    base_manifest,
    user_prompt,
    write_prompt_set,
)
from distillab.data.prompts import PromptRow, file_sha256, read_prompts
from distillab.data.records import read_records
from distillab.errors import ConfigError, DataError, TeacherError
from distillab.teacher import load_teacher

HARVEST_DIR = "harvest"
REQUESTS_FILE = "requests.jsonl"
IDENTITY_FILE = "synthesis.json"
"""What makes a rerun into the same --out a resume: method, seeds, examples, Magpie prefix."""


@dataclass(frozen=True)
class Plan:
    """The requests to harvest: `n` samples of each row; the seeds each self-instruct request shows."""

    rows: list[PromptRow]
    n: int
    seeds_of: dict[str, list[str]]
    seed_texts: list[str]
    identity: dict[str, Any]


@dataclass
class SynthesisResult(PromptSetResult):
    harvest: HarvestResult
    seconds: float
    """Wall time of the harvest (this run's samples only)."""


def _plan(config: SynthesizeConfig, seeds: list[PromptRow]) -> Plan:
    if config.method == "magpie":
        from distillab.data.promptgen.magpie import magpie_prefix
        from distillab.models.load import load_tokenizer  # loads transformers: only Magpie needs it

        source = config.tokenizer or config.teacher
        prefix = magpie_prefix(load_tokenizer(source), system=config.system, where=source)
        magpie = {"method": "magpie", "prefix": prefix}
        return Plan([PromptRow(prefix, "magpie", "magpie prefix")], config.count, {}, [], magpie)
    assert config.seeds is not None  # the config checked it
    drawn = self_instruct.requests(seeds, config.count, config.examples)
    identity: dict[str, Any] = {
        "method": "self-instruct",
        "seeds": file_sha256(config.seeds),
        "examples": config.examples,
        "instruction": self_instruct.INSTRUCTION,
    }
    return Plan(
        [row for row, _ in drawn],
        1,
        {str(row.id): ids for row, ids in drawn},
        self_instruct.seed_texts(seeds),
        identity,
    )


def _check_identity(out: Path, identity: dict[str, Any], overwrite: bool) -> None:
    path = out / IDENTITY_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8")).get("identity")
    except (OSError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); remove it, or use --overwrite") from exc
    if old == identity:
        return
    if overwrite:
        shutil.rmtree(out / HARVEST_DIR, ignore_errors=True)
        path.unlink()
        return
    changed = sorted(k for k in set(old or {}) | set(identity) if (old or {}).get(k) != identity.get(k))
    raise ConfigError(
        f"{out} holds a synthesis with another {', '.join(changed)}; use another --out, or --overwrite "
        "to replace it"
    )


def _harvest_config(config: SynthesizeConfig, requests: Path, n: int) -> HarvestConfig:
    shared = {f.name: getattr(config, f.name) for f in fields(HarvestSettings)}
    return HarvestConfig(
        **shared, prompts=requests, out=config.out / HARVEST_DIR, n=n, n_per_request=1, top_logprobs=0
    )


def _candidates(out: Path, plan: Plan, method: str) -> tuple[list[PromptRecord], int]:
    """The prompts in the harvested answers to `plan`'s requests, and how many samples were cut off."""
    wanted = {str(row.id) for row in plan.rows}
    table = read_records(
        out / HARVEST_DIR,
        columns=["id", "prompt_id", "sample_index", "completion", "finish_reason", "teacher"],
    )
    answers = sorted(
        (r for r in table.to_pylist() if r["prompt_id"] in wanted and r["sample_index"] < plan.n),
        key=lambda r: (r["prompt_id"], r["sample_index"]),
    )
    records: list[PromptRecord] = []
    unfinished = 0
    for answer in answers:
        if answer["finish_reason"] == "length":
            unfinished += 1
            continue
        completion = answer["completion"] or ""
        text = completion.strip() if method == "magpie" else self_instruct.parse_instruction(completion)
        source: Provenance = {
            "kind": method,
            "teacher": answer["teacher"],
            "request": answer["prompt_id"],
            "sample": answer["sample_index"],
            "record": answer["id"],
        }
        if answer["prompt_id"] in plan.seeds_of:
            source["seeds"] = plan.seeds_of[answer["prompt_id"]]
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        records.append(PromptRecord(f"{method}-{digest}", user_prompt(text), source))
    return records, unfinished


async def synthesize(config: SynthesizeConfig, *, console: Console | None = None) -> SynthesisResult:
    """Run (or resume) the synthesis `config` describes; see the module docstring."""
    console = console or Console(stderr=True)
    seeds = read_prompts(config.seeds) if config.seeds is not None else []
    heldout = read_heldout(config.heldout)
    if config.checker:
        load_checker(config.checker)
    if config.language:
        language_of()
    plan = _plan(config, seeds)
    _check_identity(config.out, plan.identity, config.overwrite)
    teacher = load_teacher(
        config.teacher,
        model=config.model,
        api_key_env=config.api_key_env,
        timeout=config.timeout,
        max_connections=max(config.concurrency, 1),
    )
    fresh = not config.out.exists()
    try:
        config.out.mkdir(parents=True, exist_ok=True)
        if not (config.out / IDENTITY_FILE).is_file():
            mf.write_json_atomic(config.out / IDENTITY_FILE, {"identity": plan.identity})
        requests = config.out / REQUESTS_FILE
        write_text(requests, "".join(json.dumps({"id": r.id, **_input_field(r)}) + "\n" for r in plan.rows))
        start = time.monotonic()
        result = await harvest(_harvest_config(config, requests, plan.n), teacher=teacher, console=console)
        seconds = time.monotonic() - start
    except BaseException:
        if fresh and not (config.out / HARVEST_DIR).exists():  # failed before its first request:
            shutil.rmtree(config.out, ignore_errors=True)  # leave nothing, as a failed generate does
        raise
    finally:
        await teacher.aclose()
    if result.failed:
        raise TeacherError(
            f"{result.failed} requests were rejected by the teacher (see failures in "
            f"{config.out / HARVEST_DIR / 'manifest.json'}); rerun the same command to retry them"
        )
    records, unfinished = _candidates(config.out, plan, config.method)
    outcome = apply_filters(records, config, heldout=heldout, seeds=plan.seed_texts)
    dropped = {**({"unfinished": unfinished} if unfinished else {}), **outcome.dropped}
    manifest = base_manifest("synthesize")
    manifest["method"] = config.method
    manifest["identity"] = plan.identity
    if config.seeds is not None:
        manifest["seeds"] = {
            "path": str(config.seeds.resolve()),
            "hash": file_sha256(config.seeds),
            "count": len(seeds),
        }
    harvested = result.manifest or {}
    manifest["harvest"] = {
        "path": HARVEST_DIR,
        "requests": REQUESTS_FILE,
        "teacher": harvested.get("teacher"),
        "params": harvested.get("params"),
        "count": config.count,
        "records": result.records,
        "new_records": result.new_records,
        "seconds": round(seconds, 3),
        "tokens": harvested.get("tokens"),
        "cost": harvested.get("cost"),
        "limits": harvested.get("limits"),
        "terms": config.terms,
    }
    manifest["filters"] = filter_manifest(config, heldout)
    candidates = len(records) + unfinished
    manifest["counts"] = {"candidates": candidates, "kept": len(outcome.kept), "dropped": dropped}
    manifest["sources"] = dict(Counter(str(r.source["kind"]) for r in outcome.kept))
    write_prompt_set(config.out, outcome.kept, manifest)
    return SynthesisResult(config.out, candidates, len(outcome.kept), dropped, manifest, result, seconds)


def _input_field(row: PromptRow) -> dict[str, Any]:
    return {"prompt": row.input} if isinstance(row.input, str) else {"messages": row.input}


def run_synthesis(config: SynthesizeConfig, *, console: Console | None = None) -> SynthesisResult:
    """Synchronous `synthesize` for scripts and the CLI."""
    return cast(SynthesisResult, asyncio.run(synthesize(config, console=console)))
