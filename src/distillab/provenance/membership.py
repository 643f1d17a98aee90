"""`distillab prove membership`: was the suspect trained on the very answers we served?

    config = MembershipConfig(suspect="runs/student", served=Path("runs/served"),
                              alternatives=Path("runs/alternatives"), out=Path("runs/member"))
    results = run_membership(config)

A provider's gateway logs every answer it served. To ask whether a suspect model was trained on them,
sample fresh answers to the same prompts from the same model with the same settings (the
"alternatives"): each served answer was one random draw among equally likely ones, so for a suspect that
never saw it, it is no more likely than the alternatives. The suspect scores every answer (its mean log-
probability per token, teacher-forced after the prompt, formatted as the trainer formats records), and
the test counts the prompts where the served answer beats every alternative:

- under the null (the suspect is independent of which draw was served), prompt i's served answer is the
  strict best with probability at most 1/(m_i + 1) (m_i alternatives; exactly that without ties), and
  prompts are independent, so the count is at most Poisson-binomial: an exact one-sided p-value;
- a suspect that trained on the served answers has seen them, often many times, and ranks them first.

Unlike radioactivity it needs no watermark, but it needs the same model and settings for the
alternatives (same weights, temperature, max_tokens, and watermark key if the answers were watermarked),
and the served answers themselves (the gateway's request log). Only the first served answer of each
prompt is used (two served answers of one prompt would share their alternatives, and their tests would
not be independent). No end-of-answer token is scored: a log does not say how each answer ended.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from scipy.special import logsumexp

from distillab.errors import ConfigError, DataError
from distillab.provenance.evidence import TestResult
from distillab.provenance.membership_config import MembershipConfig
from distillab.provenance.report import write_evidence
from distillab.provenance.stats import P_FLOOR

__all__ = ["MembershipConfig", "answer_scores", "membership_result", "poisson_binomial_sf", "run_membership"]


# -- reading answers -------------------------------------------------------------------------------------


def read_answers(path: Path) -> list[dict[str, Any]]:
    """Answers as records (prompt or messages, completion): a harvest directory, or a gateway request-log
    export (`distillab logs export`, .jsonl or .parquet; answered requests only)."""
    import pyarrow.parquet as pq

    from distillab.data.records import data_files, read_records

    path = Path(path)
    if path.is_dir():
        if not data_files(path):
            raise DataError(f"{path}: a directory, but not a harvest dataset (no data/*.parquet)")
        rows = read_records(path, columns=["prompt", "messages", "completion"]).to_pylist()
        return [r for r in rows if r["completion"]]
    if not path.is_file():
        raise DataError(f"{path}: not found")
    if path.suffix.lower() == ".parquet":
        rows = pq.read_table(path).to_pylist()
    else:
        from distillab.jsonl import iter_jsonl

        rows = []
        for where, row in iter_jsonl(path):
            if not isinstance(row, dict):
                raise DataError(f"{where}: not a JSON object")
            rows.append(row)
    answers = []
    for i, row in enumerate(rows, 1):
        if "response" not in row and "completion" not in row:
            raise DataError(f"{path}: row {i} has neither 'response' (a request-log export) nor 'completion'")
        text = row.get("response", row.get("completion"))
        if not text or row.get("status", 200) != 200:
            continue
        messages, params = row.get("messages"), row.get("params")
        if isinstance(messages, str):  # a log exported as text columns
            messages = json.loads(messages)
        if isinstance(params, str):
            params = json.loads(params)
        answers.append(
            {
                "prompt": row.get("prompt"),
                "messages": messages,
                "completion": text,
                "params": params if isinstance(params, dict) else {},
                "decision": row.get("decision"),
            }
        )
    return answers


def prompt_of(answer: dict[str, Any]) -> str:
    """What identifies the prompt an answer answers: its messages or its prompt text."""
    if answer.get("messages"):
        return json.dumps([[m["role"], m["content"]] for m in answer["messages"]])
    return json.dumps(answer.get("prompt"))


# -- scoring ---------------------------------------------------------------------------------------------


@torch.inference_mode()
def answer_scores(
    model: Any,
    tokenizer: Any,
    answers: Sequence[dict[str, Any]],
    *,
    batch_size: int = 8,
    max_length: int = 512,
) -> np.ndarray:
    """The suspect's mean log-probability per completion token of each answer, after its prompt (NaN when
    the prompt leaves no room), formatted as `distillab train` formats records."""
    from distillab.models.scoring import score
    from distillab.train.encode import encode_records

    records = [
        {
            "id": str(i),
            "prompt_id": str(i),
            "prompt": a.get("prompt"),
            "messages": a.get("messages"),
            "completion": a["completion"],
            "finish_reason": "length",
            "token_ids": None,
            "tokens": None,
            "top_logprobs": None,
            "top_ids": None,
            "top_tokens": None,
        }
        for i, a in enumerate(answers)
    ]
    examples, _ = encode_records(
        records, tokenizer, vocab_size=len(tokenizer), max_length=max_length, with_signal=False
    )
    scores = np.full(len(answers), np.nan)
    order = sorted(range(len(examples)), key=lambda j: len(examples[j].input_ids))  # similar lengths together
    scored = score(model, [examples[j].input_ids for j in order], batch_size=batch_size)
    for j, result in zip(order, scored):
        example = examples[j]
        # token_logprobs[t] scores token t+1: the completion's tokens are n_prompt.. onwards.
        completion = result.token_logprobs[max(example.n_prompt - 1, 0) :]
        if len(completion):
            scores[int(example.prompt_id)] = float(completion.mean())
    return scores


# -- the test --------------------------------------------------------------------------------------------

ASSUMPTIONS = (
    (
        "The fresh answers were sampled from the same model with the same settings as the served ones "
        "(weights, sampling parameters, watermark key), independently, so that each served answer was one "
        "draw among equally likely ones."
    ),
    "The suspect's scores do not depend on which of the answers was served (true when it never saw them).",
    "Prompts were answered independently of each other.",
)


def poisson_binomial_sf(k: int, probs: Sequence[float]) -> float:
    """P(X >= k) for X a sum of independent Bernoulli(probs[i]): exact, in log space (no underflow)."""
    if k <= 0:
        return 1.0
    if k > len(probs):
        return 0.0
    log_pmf = np.array([0.0])  # log P(X = j) after the Bernoullis so far
    for p in probs:
        stay = log_pmf + math.log1p(-p) if p < 1 else np.full_like(log_pmf, -np.inf)
        move = log_pmf + (math.log(p) if p > 0 else -np.inf)
        log_pmf = np.logaddexp(np.append(stay, -np.inf), np.insert(move, 0, -np.inf))
    return float(min(1.0, math.exp(logsumexp(log_pmf[k:]))))


def membership_result(
    served: np.ndarray,
    alternatives: Sequence[np.ndarray],
    *,
    suspect: str,
    alpha: float = 0.05,
    details: dict[str, Any] | None = None,
) -> TestResult:
    """The test from the suspect's scores: `served[i]` and `alternatives[i]` (an array) for prompt i."""
    wins = np.array([bool(np.all(s > a)) for s, a in zip(served, alternatives)], dtype=bool)
    chance = np.array([1.0 / (len(a) + 1) for a in alternatives])
    p = max(poisson_binomial_sf(int(wins.sum()), chance.tolist()), P_FLOOR) if len(wins) else 1.0
    # Where the served answer stands among its prompt's answers: 1.0 = above all of them, 0.0 = below all.
    standing = [float(np.mean(s > a) + 0.5 * np.mean(s == a)) for s, a in zip(served, alternatives)]
    gaps = [float(s - np.mean(a)) for s, a in zip(served, alternatives)]
    n_alt = int(sum(len(a) for a in alternatives))
    return TestResult(
        name="membership/served-answers",
        question=f"Was {suspect} trained on the answers that were served?",
        null_hypothesis=(
            "the suspect does not depend on which of the model's equally likely answers was served "
            "for each prompt"
        ),
        method=(
            f"For each of {len(wins)} prompts, the suspect scored the served answer and "
            f"{n_alt / max(len(wins), 1):.1f} fresh answers (on average) sampled from the same model with "
            "the same settings (mean log-probability per token, teacher-forced after the prompt). The "
            "number of prompts where the served answer scored strictly above every fresh one was compared "
            "with its null distribution (a sum of independent Bernoulli(1/(alternatives + 1)): "
            "Poisson-binomial) by an exact one-sided test."
        ),
        assumptions=list(ASSUMPTIONS),
        sample_sizes={"prompts": len(wins), "alternatives": n_alt},
        statistic=float(wins.sum()),
        p_value=float(p),
        alpha=alpha,
        effect={
            "share_served_on_top": float(wins.mean()) if len(wins) else 0.0,
            "share_expected_by_chance": float(chance.mean()) if len(chance) else 0.0,
            "mean_standing": float(np.mean(standing)) if standing else 0.5,
            "mean_logprob_gap": float(np.mean(gaps)) if gaps else 0.0,
        },
        details={"suspect": suspect, **(details or {})},
    )


def fresh_answers(
    config: MembershipConfig, served: Sequence[dict[str, Any]], console: Console
) -> list[dict[str, Any]]:
    """--samples fresh answers of --teacher to each served prompt, with the served settings, sampled through
    the harvest machinery into OUT/fresh (resumable)."""
    from distillab.provenance.samples import sample

    assert config.teacher is not None and config.temperature is not None and config.max_tokens is not None
    wanted = {"temperature": config.temperature, "max_tokens": config.max_tokens}
    clashes = sorted(
        {
            f"{name}={answer['params'][name]!r}"
            for answer in served
            for name, value in wanted.items()
            if name in answer.get("params", {}) and answer["params"][name] != value
        }
    )
    if clashes:
        raise ConfigError(
            f"--served {config.served}: answers were served with {', '.join(clashes[:5])}, not "
            f"--temperature {config.temperature} --max-tokens {config.max_tokens}; test each setting "
            "separately (e.g. per account) with the settings it was served with"
        )
    rows = [
        {
            "id": f"m{i}",
            **(
                {"messages": [{"role": m["role"], "content": m["content"]} for m in a["messages"]]}
                if a.get("messages")
                else {"prompt": a.get("prompt")}
            ),
        }
        for i, a in enumerate(served)
    ]
    prompts = config.out / "fresh-prompts.jsonl"
    prompts.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    console.print(
        f"membership: asking {config.teacher} for {config.samples} fresh answers to each of {len(rows)} "
        "served prompts",
        markup=False,
        highlight=False,
    )
    grouped = sample(
        config.teacher,
        prompts,
        config.out / "fresh",
        n=config.samples,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        concurrency=config.concurrency,
        api_key_env=config.api_key_env,
        max_retries=config.max_retries,
        timeout=config.timeout,
        progress=config.progress,
        console=console,
        terms="fresh answers for a membership test (distillab prove membership)",
    )
    return [
        {"prompt": a.get("prompt"), "messages": a.get("messages"), "completion": text}
        for i, a in enumerate(served)
        for text in grouped.get(f"m{i}", [])
        if text
    ]


def run_membership(config: MembershipConfig, *, console: Console | None = None) -> TestResult:
    """Score the served and fresh answers with the suspect, write OUT/evidence.json and .html."""
    from distillab.models.load import load_model

    console = console or Console(stderr=True)
    config.out.mkdir(parents=True, exist_ok=True)
    served_all = read_answers(config.served)
    # A degraded answer was served with other settings (shorter, no logprobs) than the request asked for:
    # fresh answers drawn with the request's settings would not be its equals.
    served_ok = [a for a in served_all if a.get("decision") != "degrade"]
    first: dict[str, dict[str, Any]] = {}
    for answer in served_ok:
        first.setdefault(prompt_of(answer), answer)
    if config.alternatives is not None:
        fresh_all = read_answers(config.alternatives)
    else:
        fresh_all = fresh_answers(config, list(first.values()), console)
    fresh: dict[str, list[dict[str, Any]]] = {}
    for answer in fresh_all:
        if prompt_of(answer) in first:
            fresh.setdefault(prompt_of(answer), []).append(answer)
    prompts = [key for key in first if fresh.get(key)]
    if not prompts:
        source = (
            f"--alternatives {config.alternatives}" if config.alternatives else f"--teacher {config.teacher}"
        )
        raise DataError(
            f"{source}: no answers to the prompts of --served {config.served} ({len(first)} prompts "
            "there); sample the same prompts again"
        )
    console.print(
        f"membership: {config.suspect} scores {len(prompts)} served answers and "
        f"{sum(len(fresh[k]) for k in prompts)} fresh ones",
        markup=False,
        highlight=False,
    )
    model, tokenizer = load_model(config.suspect, device=config.device)
    answers = [first[k] for k in prompts] + [a for k in prompts for a in fresh[k]]
    scores = answer_scores(
        model, tokenizer, answers, batch_size=config.batch_size, max_length=config.max_length
    )
    served_scores, rest = scores[: len(prompts)], scores[len(prompts) :]
    alternatives, start = [], 0
    for key in prompts:
        alternatives.append(rest[start : start + len(fresh[key])])
        start += len(fresh[key])
    keep = [
        i
        for i, (s, a) in enumerate(zip(served_scores, alternatives))
        if np.isfinite(s) and np.isfinite(a).all()
    ]
    result = membership_result(
        served_scores[keep],
        [alternatives[i] for i in keep],
        suspect=config.suspect,
        alpha=config.alpha,
        details={
            "served": str(config.served),
            "alternatives": str(config.alternatives or config.out / "fresh"),
            "served_answers_read": len(served_all),
            "degraded_answers_skipped": len(served_all) - len(served_ok),
            **(
                {
                    "teacher": config.teacher,
                    "samples": config.samples,
                    "temperature": config.temperature,
                    "max_tokens": config.max_tokens,
                }
                if config.teacher is not None
                else {}
            ),
            "prompts_without_alternatives": len(first) - len(prompts),
            "prompts_too_long": len(prompts) - len(keep),
        },
    )
    write_evidence([result], config.out, title=f"Membership of served answers in {config.suspect}")
    return result
