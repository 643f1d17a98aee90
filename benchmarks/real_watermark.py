"""The watermark on a real model: detection rate, quality cost and the null, beside MarkLLM's KGW.

    python benchmarks/real_watermark.py [--quick] [--model SmolLM2-135M-Instruct.Q4_1.gguf] [--work DIR]

SmolLM2-135M-Instruct (the 4-bit GGUF from PyPI, dequantized: numbers describe that copy, not the
upstream model) answers instructions built from Python's standard-library docs (`distillab prompts
stdlib`), at temperature 0.7 and 1.0, up to `--max-tokens` answer tokens, `--batch` (32) requests at a
time, seeded per prompt (every setting draws from the same random numbers). distillab's settings are
served by the real command, `distillab serve --model GGUF --watermark-key-file KEY --watermark-...` on
loopback, and asked through the `openai` client (`--engine`: the same processor through distillab's
engine in this process instead); plain answers come from `distillab serve` without a key. MarkLLM's KGW
(`markllm.watermark.kgw.kgw`, its logits processor and green lists, default hash key) runs through
distillab's engine in this process (the same batched sampling loop the server runs), so only the green
lists differ. MarkLLM is imported from `--markllm-path` or the environment; when it is missing its rows
are skipped and the JSON says why (`pip install --no-deps --target DIR markllm`: its PyPI dependencies pin
openai 0.28 and pillow 9.4).

Per setting and temperature, with each answer tokenized from its text as `distillab watermark detect`
does and scored alone (each distinct pair once, exact binomial p-value):

- detection rate at 50, 100 and 200 answer tokens at FPR 1e-5, over the answers at least that long (an
  answer that ran to the token limit counts at the limit even if its text re-tokenizes a little shorter);
- the share of answers never detected (p > 1e-5 over the whole answer), split into those that ended
  before `--max-tokens` (too short) and those that ran to it (too little entropy);
- perplexity of the answers under the unwatermarked model (teacher forcing after the chat prompt), and its
  cost against the plain answers at the same temperature.

MarkLLM rows give both its own statistic (z over every position, no deduplication, normal threshold
z > 4.265 for 1e-5) and the deduplicated exact test on its green lists (conservative for KGW's
permutation lists: the colours of one context's tokens are negatively correlated).

The null: p-values of text written without the key, each text under a key of its own (and, beside it,
all under the benchmark's key): the plain answers, and the reference docstrings of stdlib prompts not
answered (real human text). They should be uniform; binomial p-values are discrete, so the KS test is
run on randomized p-values
(P(X > g) + U * P(X = g), exactly uniform under the null), and the raw p-values' rejection rates at 0.01,
0.05 and 1e-5 are given beside it (each at most its level under the null).

Writes benchmarks/results/real_watermark.json (``--quick``: real_watermark_quick.json). Answers are kept
in `--work` (default runs/real-watermark) and reused by a rerun with the same settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import binom, kstest, norm

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "scripts"))

from fetch_real_model import fetch  # noqa: E402  (the cached real model, fetched and converted once)

from distillab.models import Engine, EngineRequest, SamplingParams, score  # noqa: E402
from distillab.provenance.config import WatermarkConfig  # noqa: E402
from distillab.provenance.detect import detect  # noqa: E402
from distillab.provenance.keys import derive  # noqa: E402
from distillab.provenance.watermark import Watermark, Watermarker  # noqa: E402
from distillab.serving.process import serve_process  # noqa: E402

FPR = 1e-5
LENGTHS = (50, 100, 200)
MODES = {
    "full": {"prompts": 96, "max_tokens": 200, "temperatures": (0.7, 1.0), "variants_at": (1.0,)},
    "quick": {"prompts": 16, "max_tokens": 100, "temperatures": (0.7, 1.0), "variants_at": (1.0,)},
}
DEFAULT = WatermarkConfig()
VARIANTS = [WatermarkConfig(delta=1.0), WatermarkConfig(scheme="selfhash", context=4)]
MARKLLM_HASH_KEY = 15485863
"""MarkLLM's default KGW key (config/KGW.json)."""


# -- prompts ----------------------------------------------------------------------------------------------


def stdlib_prompts(work: Path) -> list[dict[str, Any]]:
    """`distillab prompts stdlib`'s instructions (each with its docstring as `reference`), built once."""
    path = work / "stdlib" / "prompts.jsonl"
    if not path.is_file():
        subprocess.run(
            [sys.executable, "-m", "distillab.cli.main", "prompts", "stdlib", "--out", str(path.parent)],
            check=True,
        )
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- answering --------------------------------------------------------------------------------------------


async def ask_all(
    url: str, jobs: list[tuple[int, dict[str, Any], float]], max_tokens: int, concurrency: int
) -> list[dict[str, Any]]:
    """Each (seed, prompt, temperature) once through the OpenAI client, `concurrency` at a time."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=3600)
    gate = asyncio.Semaphore(concurrency)

    async def one(seed: int, prompt: dict[str, Any], temperature: float) -> dict[str, Any]:
        async with gate:
            reply = await client.chat.completions.create(
                model="model",
                messages=prompt["messages"],
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
            )
        choice = reply.choices[0]
        return {
            "id": prompt["id"],
            "temperature": temperature,
            "text": choice.message.content or "",
            "finish_reason": choice.finish_reason,
        }

    rows = await asyncio.gather(*(one(*job) for job in jobs))
    await client.close()
    return list(rows)


def serve_args(config: WatermarkConfig | None, key: Path, batch: int) -> tuple[str, ...]:
    named = ("--model-name", "model", "--max-batch", str(batch))
    if config is None:
        return named
    return (
        *named,
        "--watermark-key-file", str(key),
        "--watermark-scheme", config.scheme,
        "--watermark-context", str(config.context),
        "--watermark-gamma", str(config.gamma),
        "--watermark-delta", str(config.delta),
    )  # fmt: skip


def engine_answers(
    engine: Engine,
    jobs: list[tuple[int, dict[str, Any], float]],
    processor: Any,
    max_tokens: int,
    batch: int,
) -> list[dict[str, Any]]:
    """Each (seed, prompt, temperature) once through distillab's engine with `processor`, `batch` at a
    time (as served)."""
    rows: list[dict[str, Any]] = []
    for start in range(0, len(jobs), batch):
        chunk = jobs[start : start + batch]
        requests = [
            EngineRequest(
                engine.encode_chat(prompt["messages"]),
                SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=seed),
                processor=processor,
            )
            for seed, prompt, temperature in chunk
        ]
        for (_, prompt, temperature), g in zip(chunk, engine.generate(requests)):
            sample = g.samples[0]
            rows.append(
                {
                    "id": prompt["id"],
                    "temperature": temperature,
                    "text": sample.text,
                    "finish_reason": sample.finish_reason,
                }
            )
    return rows


# -- MarkLLM's KGW as an engine processor and a detection scorer ------------------------------------------


class MarkLLMKGW:
    """MarkLLM's KGW logits processor behind distillab's `LogitsProcessor` protocol, and its green lists
    behind the detector's `Scorer` protocol (a pair's hash is its green-list seed and token, so pairs that
    share a draw are counted once)."""

    width = 1

    def __init__(self, gamma: float, delta: float, vocab_size: int, hash_key: int = MARKLLM_HASH_KEY):
        from types import SimpleNamespace

        from markllm.watermark.kgw.kgw import KGWLogitsProcessor, KGWUtils

        settings = SimpleNamespace(
            gamma=gamma, delta=delta, hash_key=hash_key, z_threshold=4.0, prefix_length=1,
            f_scheme="time", window_scheme="left", vocab_size=vocab_size, device="cpu",
        )  # fmt: skip
        self.utils = KGWUtils(settings)
        self.processor = KGWLogitsProcessor(settings, self.utils)
        self.config = WatermarkConfig(context=1, gamma=gamma, delta=delta)
        self.vocab_size = vocab_size
        self.hash_key = hash_key
        self._greens: dict[int, np.ndarray] = {}

    def apply(self, logits: torch.Tensor, previous: Sequence[Sequence[int]]) -> torch.Tensor:
        ids = torch.tensor([list(p) for p in previous], dtype=torch.long)
        return self.processor(ids, logits.float().clone())

    def hashes(self, windows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        prf = self.utils.prf.numpy().astype(np.uint64)
        seeds = (np.uint64(self.hash_key) * prf[np.asarray(windows)[:, 0]]) % np.uint64(self.vocab_size)
        return seeds * np.uint64(self.vocab_size) + np.asarray(tokens, dtype=np.uint64)

    def green(self, hashes: np.ndarray) -> np.ndarray:
        hashes = np.asarray(hashes, dtype=np.uint64)
        seeds, tokens = hashes // np.uint64(self.vocab_size), hashes % np.uint64(self.vocab_size)
        out = np.zeros(len(hashes), dtype=bool)
        for seed in np.unique(seeds):
            at = seeds == seed
            out[at] = np.unpackbits(self._green_bits(int(seed)))[tokens[at].astype(np.int64)].astype(bool)
        return out

    def _green_bits(self, seed: int) -> np.ndarray:
        bits = self._greens.get(seed)
        if bits is None:
            # MarkLLM seeds its generator with (key * f(prev)) % V; any prev with that seed gives this list.
            prf = self.utils.prf
            prev = int(torch.nonzero((self.hash_key * prf) % self.vocab_size == seed)[0, 0])
            mask = np.zeros(self.vocab_size, dtype=bool)
            mask[np.asarray(self.utils.get_greenlist_ids(torch.tensor([prev])))] = True
            bits = self._greens[seed] = np.packbits(mask)
        return bits


def load_markllm(path: str | None) -> str | None:
    """None when `markllm` imports (from `path` when given), else why not."""
    if path:
        sys.path.insert(0, path)
    try:
        import markllm.watermark.kgw.kgw  # noqa: F401
    except ImportError as exc:
        return (
            f"markllm is not importable ({exc}); "
            "pip install --no-deps --target DIR markllm, then --markllm-path DIR"
        )
    return None


# -- measuring -------------------------------------------------------------------------------------------


def answer_ids(engine: Engine, rows: list[dict[str, Any]]) -> list[list[int]]:
    """Each answer's text tokenized as `distillab watermark detect` tokenizes it."""
    return [list(engine.tokenizer(r["text"], add_special_tokens=False)["input_ids"]) for r in rows]


def perplexity(engine: Engine, prompts: list[dict[str, Any]], answers: list[list[int]], cache: Path) -> float:
    """exp(mean NLL per answer token) under the unwatermarked model, each answer after its chat prompt.

    The answers' summed NLLs are kept in `cache` (teacher forcing is the slow part of the analysis)."""
    pairs = [(engine.encode_chat(p["messages"]), a) for p, a in zip(prompts, answers) if a]
    if cache.is_file():
        nll, tokens = json.loads(cache.read_text())
    else:
        scored = score(engine.model, [p + a for p, a in pairs], batch_size=8)
        nll = -sum(float(s.token_logprobs[-len(a) :].sum()) for s, (_, a) in zip(scored, pairs))
        tokens = sum(len(a) for _, a in pairs)
        cache.write_text(json.dumps([nll, tokens]))
    return math.exp(nll / max(1, tokens))


def detection(
    answers: list[list[int]], rows: list[dict[str, Any]], scorer: Any, max_tokens: int
) -> dict[str, Any]:
    """Detection rates at each length, the never-detected shares, green share and z (KGW's, no dedup)."""
    out: dict[str, Any] = {
        "answers": len(answers),
        "mean_tokens": round(float(np.mean([len(a) for a in answers])), 1),
    }
    for length in LENGTHS:
        if length > max_tokens:
            continue
        # An answer that ran to the token limit counts at the limit even when its text re-tokenizes
        # to a few tokens fewer (188 to 205 for 200 generated here).
        long_enough = [
            a
            for a, row in zip(answers, rows)
            if len(a) >= length or (length == max_tokens and row["finish_reason"] == "length")
        ]
        results = [detect(a[:length], scorer) for a in long_enough]
        out[f"at_{length}"] = {
            "answers": len(long_enough),
            "detected": float(np.mean([r.p_value <= FPR for r in results])) if results else None,
            "detected_kgw_z": (
                float(np.mean([r.effect["z_no_dedup"] > norm.isf(FPR) for r in results])) if results else None
            ),
            "median_log10_p": float(np.median([r.effect["log10_p"] for r in results])) if results else None,
        }
    full = [detect(a, scorer) for a in answers]
    missed = [r.p_value > FPR for r in full]
    ran_out = [row["finish_reason"] == "length" for row in rows]
    out["never_detected"] = float(np.mean(missed))
    out["never_detected_short"] = float(np.mean([m and not lo for m, lo in zip(missed, ran_out)]))
    out["never_detected_low_entropy"] = float(np.mean([m and lo for m, lo in zip(missed, ran_out)]))
    out["never_detected_kgw_z"] = float(np.mean([r.effect["z_no_dedup"] <= norm.isf(FPR) for r in full]))
    pooled = detect(answers, scorer)
    out["green_fraction"] = round(pooled.effect["green_fraction"], 4)
    out["pooled_log10_p"] = round(pooled.effect["log10_p"], 1)
    return out


def null_pvalues(
    texts: list[list[int]], key_for: Callable[[int], Any], rng: np.random.Generator
) -> dict[str, Any]:
    """p-values of unmarked texts, text i tested under key `key_for(i)`: KS test on randomized p-values,
    rejection rates, and the same under one key for every text (`key_for(0)`).

    A p-value is exact over the draw of the key. Texts tested under one fixed key share that key's
    colours of their common pairs (" of", " the"), so their p-values are not independent: a KS test over
    them checks the key, not the test. With one fresh key per text they are independent."""
    fresh = [detect(t, key_for(i)) for i, t in enumerate(texts)]
    one = key_for(0)
    same = [detect(t, one) for t in texts]
    gamma = one.config.gamma

    def summary(results: list[Any]) -> dict[str, Any]:
        results = [r for r in results if r.sample_sizes["scored_pairs"] > 0]
        green = np.array([r.sample_sizes["green_pairs"] for r in results])
        scored = np.array([r.sample_sizes["scored_pairs"] for r in results])
        raw = np.array([r.p_value for r in results])
        randomized = binom.sf(green, scored, gamma) + rng.random(len(results)) * binom.pmf(
            green, scored, gamma
        )
        z = np.array([r.effect["z_no_dedup"] for r in results])
        test = kstest(randomized, "uniform")
        return {
            "texts": len(results),
            "median_scored_pairs": float(np.median(scored)),
            "green_share": round(float(green.sum() / scored.sum()), 4),
            "ks_randomized_p": float(test.pvalue),
            "ks_randomized_stat": round(float(test.statistic), 4),
            "rate_p_below_0.05": float(np.mean(raw <= 0.05)),
            "rate_p_below_0.01": float(np.mean(raw <= 0.01)),
            "rate_p_below_1e-5": float(np.mean(raw <= FPR)),
            "rate_kgw_z_above_4.265": float(np.mean(z > norm.isf(FPR))),
            "rate_kgw_z_above_4": float(np.mean(z > 4.0)),
        }

    return {**summary(fresh), "one_key": summary(same)}


def label(config: WatermarkConfig | None) -> str:
    return (
        "plain"
        if config is None
        else f"{config.scheme} h={config.context} gamma={config.gamma:g} delta={config.delta:g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 prompts, 100 tokens (a few minutes)")
    parser.add_argument("--model", type=Path, help="GGUF or model directory (default: the cached SmolLM2)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "real-watermark")
    parser.add_argument("--prompts", type=int, help="prompts answered per setting (default 96; quick 16)")
    parser.add_argument("--max-tokens", type=int, help="answer tokens at most (default 200; quick 100)")
    parser.add_argument("--batch", type=int, default=32, help="requests in flight (the server's max batch)")
    parser.add_argument("--null-texts", type=int, default=2000, help="reference docstrings for the null")
    parser.add_argument("--markllm-path", help="directory holding the markllm package (pip --target)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads, here and in each server (on a busy 2-core machine 1 beat 2 by 4x)",
    )
    parser.add_argument(
        "--out", type=Path, help="result JSON (default: benchmarks/results/real_watermark.json)"
    )
    parser.add_argument(
        "--engine",
        action="store_true",
        help="answer through distillab's engine in this process, with the processor the server uses, "
        "instead of `distillab serve` (no server startups; for a slow machine)",
    )
    parser.add_argument(
        "--only",
        help="only answer the settings whose name contains this (e.g. selfhash), then stop: a second "
        "process can fill the answer cache while the first runs",
    )
    parser.add_argument(
        "--variants",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the variant settings (delta 1; selfhash h=4)",
    )
    args = parser.parse_args()
    mode = dict(MODES["quick" if args.quick else "full"])
    n_prompts = args.prompts or int(mode["prompts"])
    max_tokens = args.max_tokens or int(mode["max_tokens"])
    torch.set_num_threads(args.threads)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    started = time.monotonic()
    model = args.model or fetch()
    work = args.work / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    key = work / "watermark.key"
    if not key.exists():
        key.write_text(secrets.token_hex(32) + "\n")
    master = key.read_bytes().strip()

    catalogue = stdlib_prompts(args.work)
    step = max(1, len(catalogue) // n_prompts)
    prompts = catalogue[::step][:n_prompts]
    chosen = {p["id"] for p in prompts}
    seen: set[str] = set()
    references = []
    for p in catalogue:
        ref = (p.get("reference") or "").strip()
        if p["id"] not in chosen and ref and ref not in seen:
            seen.add(ref)
            references.append(ref)
    references = references[:: max(1, len(references) // args.null_texts)][: args.null_texts]

    markllm_missing = load_markllm(args.markllm_path)
    temperatures = tuple(mode["temperatures"])
    # In this order, so a cut-off run has the main comparison first: plain, default, MarkLLM, variants.
    settings: list[tuple[str, WatermarkConfig | None, tuple[float, ...]]] = [
        ("plain", None, temperatures),
        (label(DEFAULT), DEFAULT, temperatures),
    ]
    if markllm_missing is None:
        settings.append(("markllm-kgw", DEFAULT, temperatures))
    else:
        print(f"MarkLLM skipped: {markllm_missing}", flush=True)
    if args.variants:
        settings += [(label(v), v, tuple(mode["variants_at"])) for v in VARIANTS]
    if args.only:
        settings = [s for s in settings if args.only in s[0]]

    engine = Engine.load(model, device="cpu")
    kgw = MarkLLMKGW(DEFAULT.gamma, DEFAULT.delta, engine.vocab_size) if markllm_missing is None else None
    answers: dict[tuple[str, float], list[dict[str, Any]]] = {}
    timing: dict[str, float] = {}
    (work / "answers").mkdir(exist_ok=True)
    for name, config, temps in settings:
        path = work / "answers" / f"{name.replace(' ', '_')}-n{n_prompts}-m{max_tokens}.jsonl"
        if not path.is_file():
            # Seeded by prompt index: every setting draws from the same random numbers.
            jobs = [(i, p, t) for t in temps for i, p in enumerate(prompts)]
            t0 = time.monotonic()
            if name == "markllm-kgw":
                rows = engine_answers(engine, jobs, kgw, max_tokens, args.batch)
            elif args.engine:
                # What `distillab serve --watermark-key-file` marks a request naming no account with.
                mark = Watermarker(config, master).for_account(None) if config is not None else None
                rows = engine_answers(engine, jobs, mark, max_tokens, args.batch)
            else:
                # distillab's settings: the real command, one server per setting, every temperature at once.
                log = work / f"serve-{name.replace(' ', '_')}.log"
                extra = serve_args(config, key, args.batch)
                threads = {"OMP_NUM_THREADS": str(args.threads)}
                with serve_process(
                    model, extra_args=extra, log=log, startup_timeout_s=600, env=threads
                ) as url:
                    rows = asyncio.run(ask_all(url, jobs, max_tokens, args.batch))
            timing[name] = round(time.monotonic() - t0, 1)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
            print(f"answered: {name} ({len(rows)} answers) in {timing[name]:.0f} s", flush=True)
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        for t in temps:
            answers[(name, t)] = [r for r in rows if r["temperature"] == t]

    if args.only:
        return

    # Quality and detection.
    ids = {name: answer_ids(engine, rows) for name, rows in answers.items()}
    ppl = {
        (name, t): perplexity(
            engine,
            prompts,
            a,
            work / "answers" / f"{name.replace(' ', '_')}-n{n_prompts}-m{max_tokens}-t{t:g}.nll",
        )
        for (name, t), a in ids.items()
    }
    rows_out = []
    configs = {name: c for name, c, _ in settings if c is not None and name != "markllm-kgw"}
    for (name, t), rows in answers.items():
        if name == "plain":
            continue
        scorer = kgw if name == "markllm-kgw" else Watermark(configs[name], derive(master))
        plain = ppl[("plain", t)]
        row = {
            "setting": name,
            "implementation": "markllm" if name == "markllm-kgw" else "distillab serve",
            "watermark": scorer.config.as_dict(),
            "temperature": t,
            "perplexity": round(ppl[(name, t)], 3),
            "plain_perplexity": round(plain, 3),
            "perplexity_cost": round(ppl[(name, t)] / plain - 1, 4),
            **detection(ids[(name, t)], rows, scorer, max_tokens),
        }
        rows_out.append(row)
        print(json.dumps(row), flush=True)

    # The null: unmarked text under each key.
    rng = np.random.default_rng(0)
    plain_texts = [a for (name, _), a in ids.items() if name == "plain"]
    plain_ids = [a for group in plain_texts for a in group]
    reference_ids = [list(engine.tokenizer(r, add_special_tokens=False)["input_ids"]) for r in references]
    null = []
    for config in configs.values():
        first = Watermark(config, derive(master))

        def mark_for(i: int, config: WatermarkConfig = config, first: Watermark = first) -> Watermark:
            # Text 0 under the benchmark's key, every other text under a key of its own.
            return first if i == 0 else Watermark(config, derive(master, f"null/{i}"))

        for source, texts in (("plain answers", plain_ids), ("stdlib docstrings", reference_ids)):
            null.append(
                {"setting": label(config), "texts_from": source, **null_pvalues(texts, mark_for, rng)}
            )
            print(json.dumps(null[-1]), flush=True)
    if kgw is not None:

        def kgw_for(i: int) -> MarkLLMKGW:
            assert kgw is not None
            return kgw if i == 0 else MarkLLMKGW(DEFAULT.gamma, DEFAULT.delta, engine.vocab_size, i)

        for source, texts in (("plain answers", plain_ids), ("stdlib docstrings", reference_ids)):
            # 500 texts: each fresh MarkLLM key draws its own permutations (about 30 per text).
            null.append(
                {"setting": "markllm-kgw", "texts_from": source, **null_pvalues(texts[:500], kgw_for, rng)}
            )
            print(json.dumps(null[-1]), flush=True)

    path = args.out or RESULTS / ("real_watermark_quick.json" if args.quick else "real_watermark.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "real_watermark",
        "quick": args.quick,
        "model": str(model),
        "weights": "SmolLM2-135M-Instruct's 4-bit GGUF (Q4_1) dequantized to float32, not upstream's",
        "prompts": len(prompts),
        "max_tokens": max_tokens,
        "fpr": FPR,
        "plain_perplexity": {f"t={t:g}": round(v, 3) for (n, t), v in ppl.items() if n == "plain"},
        "rows": rows_out,
        "null": null,
        "markllm": "ran" if kgw is not None else markllm_missing,
        "generation_seconds": timing,
        "seconds": round(time.monotonic() - started, 1),
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "command": " ".join(["python benchmarks/real_watermark.py", *sys.argv[1:]]),
    }
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
