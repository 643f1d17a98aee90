"""Bytes on disk per generated token for top-k log-probabilities and for sampled ids, through the real
record pipeline.

    python benchmarks/signal_bytes.py [--records 200] [--tokens 256] [--top-k 20] [--draws 12]
                                      [--real GGUF_OR_DIR] [--real-prompts 16]

Synthetic but realistic signal: per position, alternatives' log-probabilities fall off with a random
(per-position) steepness, from near 0 down to about -20; alternative ids are drawn uniformly from the
vocabulary (the hardest case for compression: real top-k ids repeat frequent tokens far more). Records go
through `build_records` -> journal -> `compact` (Parquet, zstd), exactly as a harvest writes them, and
we report the Parquet bytes per token (goal <= 150 for top-20), the ratio to storing the dense fp16
distribution over the vocabulary (V * 2 bytes per token) for V = 32k and 152k, the size of the journal
(temporary), and the float16 round-trip error.

Sampled (`--draws K`, goal <= 50 bytes/token): per position the same top-k log-probabilities, scaled
to sum to at most 1, are the head of a full distribution whose remaining mass is spread evenly over the
other V - k ids; K ids are drawn from it (tail draws are distinct random ids: again the worst case) and
stored as `distillab generate --draws` stores them (distinct ids, counts, entropy). We report the mean
distinct ids per position and the entropy, since the size follows them.

`--real` harvests a real model through `run_harvest` twice with the same seed (top-k, then draws: the
texts are identical) on the tiny world's stdlib text prompts and reports the same numbers from the real
distributions, e.g. SmolLM2-135M-Instruct's GGUF (scripts/fetch_real_model.py; a dequantized 4-bit copy).
Writes benchmarks/results/signal_bytes.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from distillab.data.journal import Journal, journal_files
from distillab.data.prompts import PromptRow
from distillab.data.records import build_records, read_records
from distillab.data.signal import COLUMNS
from distillab.data.store import DATA_FILE, compact
from distillab.teacher.base import Generation, Sample, SamplingParams

ROOT = Path(__file__).resolve().parents[1]
VOCABS = (32_000, 152_064)


def synthetic_sample(rng: np.random.Generator, tokens: int, k: int, vocab: int) -> Sample:
    steep = rng.uniform(0.2, 1.5, size=(tokens, 1))
    gaps = rng.exponential(1.0, size=(tokens, k)) * steep
    top_lp = -(np.cumsum(gaps, axis=1) - gaps[:, :1] * rng.uniform(0.0, 1.0, size=(tokens, 1)))
    top_lp = np.maximum(top_lp, -20.0 - rng.uniform(0, 5, size=(tokens, k)))
    top_lp.sort(axis=1)
    top_lp = top_lp[:, ::-1]
    top_ids = np.stack([rng.choice(vocab, size=k, replace=False) for _ in range(tokens)])
    pick = np.minimum(rng.geometric(0.6, size=tokens) - 1, k - 1)  # mostly the top-1, sometimes lower
    rows = np.arange(tokens)
    return Sample(
        text="x" * tokens * 4,
        finish_reason="length",
        token_ids=top_ids[rows, pick].tolist(),
        token_logprobs=top_lp[rows, pick].tolist(),
        top_ids=top_ids.tolist(),
        top_logprobs=top_lp.tolist(),
    )


def sampled(rng: np.random.Generator, sample: Sample, draws: int, vocab: int) -> Sample:
    """`sample`'s top-k as the head of a full distribution (rest spread over the other ids); K draws."""
    assert sample.top_logprobs is not None and sample.top_ids is not None
    head = np.exp(np.asarray(sample.top_logprobs, dtype=np.float64))
    head /= np.maximum(head.sum(axis=1, keepdims=True), 1.0)
    tail = 1.0 - head.sum(axis=1)
    others = vocab - head.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(head * np.log(head)).sum(axis=1) - np.where(tail > 0, tail * np.log(tail / others), 0.0)
    cumulative = np.cumsum(head, axis=1)
    ids, counts = [], []
    for t, u in enumerate(rng.random((len(head), draws))):
        slot = np.searchsorted(cumulative[t], u, side="right")
        tops = np.asarray(sample.top_ids[t])
        drawn = np.where(
            slot < head.shape[1], tops[np.minimum(slot, head.shape[1] - 1)], rng.integers(0, vocab, draws)
        )
        unique, count = np.unique(drawn, return_counts=True)
        ids.append(unique.tolist())
        counts.append(count.tolist())
    return Sample(
        text=sample.text,
        finish_reason=sample.finish_reason,
        token_ids=sample.token_ids,
        token_logprobs=sample.token_logprobs,
        draw_ids=ids,
        draw_counts=counts,
        entropy=entropy.tolist(),
    )


def signal_bytes(path: Path) -> int:
    """Compressed bytes of the token-level signal columns in a Parquet file (all row groups)."""
    meta = pq.ParquetFile(path).metadata
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            if column.path_in_schema.split(".")[0] in COLUMNS:
                total += column.total_compressed_size
    return total


def measure(records: int, tokens: int, k: int, vocab: int, work: Path, draws: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(0)
    params = SamplingParams(top_logprobs=0 if draws else k, max_tokens=tokens, draws=draws).as_dict()
    batch = []
    originals = []
    distinct = entropy = 0.0
    for i in range(records):
        sample = synthetic_sample(rng, tokens, k, vocab)
        originals.append(np.asarray(sample.top_logprobs))
        if draws:
            sample = sampled(rng, sample, draws, vocab)
            assert sample.draw_ids is not None and sample.entropy is not None
            distinct += sum(len(row) for row in sample.draw_ids)
            entropy += sum(sample.entropy)
        row = PromptRow([{"role": "user", "content": f"prompt {i}"}], None, f"bench:{i}")
        batch += build_records(row, "bench-teacher", params, [0], Generation([sample], 10, tokens))

    async def journal() -> None:
        j = Journal(work)
        await j.append(batch)
        j.close()

    asyncio.run(journal())
    journal_bytes = sum(p.stat().st_size for p in journal_files(work))
    compact(work)
    parquet_bytes = (work / DATA_FILE).stat().st_size
    n_tokens = records * tokens
    run: dict[str, float] = {
        "format": f"sampled-{draws}" if draws else f"top-{k}",
        "vocab_for_ids": vocab,
        "tokens": n_tokens,
        "parquet_bytes_per_token": parquet_bytes / n_tokens,
        "signal_column_bytes_per_token": signal_bytes(work / DATA_FILE) / n_tokens,
        "journal_bytes_per_token": journal_bytes / n_tokens,
    }
    if draws:
        run["distinct_ids_per_position"] = distinct / n_tokens
        run["mean_entropy_nats"] = entropy / n_tokens
        return run
    table = read_records(work, columns=["top_logprobs"])
    stored = np.concatenate([np.asarray(r, dtype=np.float64) for r in table["top_logprobs"].to_pylist()])
    expected = np.concatenate(originals)
    run["max_abs_error_nats"] = float(np.abs(stored - expected).max())
    run["max_rel_error"] = float((np.abs(stored - expected) / np.maximum(np.abs(expected), 1e-3)).max())
    return run


def measure_real(
    model: str, prompts: int, tokens: int, k: int, draws: int, work: Path
) -> list[dict[str, Any]]:
    """Harvest `model` twice (top-k, then draws; same seed, so the same texts) and size both."""
    from rich.console import Console

    from distillab.data.config import HarvestConfig
    from distillab.data.harvest import run_harvest
    from distillab.toy.prompts import prompt_rows, write_rows

    rows = write_rows(prompt_rows("text", "test", prompts, seed=0), work / "prompts.jsonl")
    runs = []
    for name, settings in ((f"top-{k}", {"top_logprobs": k}), (f"sampled-{draws}", {"draws": draws})):
        out = work / name
        config = HarvestConfig(
            teacher=model, prompts=rows, out=out, max_tokens=tokens, seed=0, progress=False, **settings
        )
        started = time.monotonic()
        result = run_harvest(config, console=Console(quiet=True))
        table = read_records(out)
        n_tokens = sum(len(ids) for ids in table["token_ids"].to_pylist())
        run: dict[str, Any] = {
            "format": name,
            "model": Path(model).name,
            "records": result.records,
            "tokens": n_tokens,
            "harvest_seconds": round(time.monotonic() - started, 1),
            "parquet_bytes_per_token": (out / DATA_FILE).stat().st_size / n_tokens,
            "signal_column_bytes_per_token": signal_bytes(out / DATA_FILE) / n_tokens,
        }
        if draws and "draws" in settings:
            rows_ = [row for ids in table["draw_ids"].to_pylist() for row in ids]
            ent = [e for es in table["entropy"].to_pylist() for e in es]
            run["distinct_ids_per_position"] = sum(map(len, rows_)) / len(rows_)
            run["mean_entropy_nats"] = sum(ent) / len(ent)
        runs.append(run)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--draws", type=int, default=12, help="ids drawn per position (sampled signal)")
    parser.add_argument("--real", help="also harvest this model (a .gguf file or model directory)")
    parser.add_argument("--real-prompts", type=int, default=16)
    parser.add_argument("--real-tokens", type=int, default=128)
    args = parser.parse_args()
    runs = []
    for vocab in VOCABS:
        for draws in (0, args.draws):
            with tempfile.TemporaryDirectory() as tmp:
                run = measure(args.records, args.tokens, args.top_k, vocab, Path(tmp), draws)
            run["dense_fp16_bytes_per_token"] = vocab * 2
            run["dense_fp16_over_stored"] = vocab * 2 / run["parquet_bytes_per_token"]
            runs.append(run)
            extra = (
                f"{run['distinct_ids_per_position']:.1f} distinct ids/position, entropy "
                f"{run['mean_entropy_nats']:.2f} nats"
                if draws
                else f"float16 error <= {run['max_abs_error_nats']:.4f} nats "
                f"({run['max_rel_error']:.2%} relative)"
            )
            print(
                f"V={vocab:>7,} {run['format']:>10}: {run['parquet_bytes_per_token']:.1f} B/token in Parquet "
                f"({run['signal_column_bytes_per_token']:.1f} of them signal; journal "
                f"{run['journal_bytes_per_token']:.0f} B/token while harvesting); dense fp16 would be "
                f"{run['dense_fp16_over_stored']:.0f}x more; {extra}",
                flush=True,
            )
    real = []
    if args.real:
        with tempfile.TemporaryDirectory() as tmp:
            real = measure_real(
                args.real, args.real_prompts, args.real_tokens, args.top_k, args.draws, Path(tmp)
            )
        for run in real:
            print(
                f"{run['model']} {run['format']:>10}: {run['parquet_bytes_per_token']:.1f} B/token "
                f"in Parquet ({run['signal_column_bytes_per_token']:.1f} signal) over {run['tokens']} tokens"
                + (
                    f"; {run['distinct_ids_per_position']:.1f} distinct ids/position, entropy "
                    f"{run['mean_entropy_nats']:.2f} nats"
                    if "mean_entropy_nats" in run
                    else ""
                )
            )
    result = {
        "benchmark": "signal_bytes",
        "top_k": args.top_k,
        "draws": args.draws,
        "records": args.records,
        "tokens_per_record": args.tokens,
        "runs": runs,
        "real": real,
        "goal": "parquet_bytes_per_token <= 150 for top-k, <= 50 for sampled",
    }
    out = ROOT / "benchmarks/results/signal_bytes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
