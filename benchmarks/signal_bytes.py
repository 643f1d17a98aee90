"""Bytes on disk per generated token for top-k log-probabilities, through the real record pipeline.

    python benchmarks/signal_bytes.py [--records 200] [--tokens 256] [--top-k 20]

Synthetic but realistic signal: per position, alternatives' log-probabilities fall off with a random
(per-position) steepness, from near 0 down to about -20; alternative ids are drawn uniformly from the
vocabulary (the hardest case for compression: real top-k ids repeat frequent tokens far more). Records go
through `build_records` -> journal -> `compact` (Parquet, zstd), exactly as a harvest writes them, and
we report the Parquet bytes per token (goal <= 150 for top-20), the ratio to storing the dense fp16
distribution over the vocabulary (V * 2 bytes per token) for V = 32k and 152k, the size of the journal
(temporary), and the float16 round-trip error. Writes benchmarks/results/signal_bytes.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

import numpy as np

from distillab.data.journal import Journal, journal_files
from distillab.data.prompts import PromptRow
from distillab.data.records import build_records, read_records
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


def measure(records: int, tokens: int, k: int, vocab: int, work: Path) -> dict[str, float]:
    rng = np.random.default_rng(0)
    params = SamplingParams(top_logprobs=k, max_tokens=tokens).as_dict()
    batch = []
    originals = []
    for i in range(records):
        sample = synthetic_sample(rng, tokens, k, vocab)
        originals.append(np.asarray(sample.top_logprobs))
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
    table = read_records(work, columns=["top_logprobs"])
    stored = np.concatenate([np.asarray(r, dtype=np.float64) for r in table["top_logprobs"].to_pylist()])
    expected = np.concatenate(originals)
    n_tokens = records * tokens
    return {
        "vocab_for_ids": vocab,
        "tokens": n_tokens,
        "parquet_bytes_per_token": parquet_bytes / n_tokens,
        "journal_bytes_per_token": journal_bytes / n_tokens,
        "max_abs_error_nats": float(np.abs(stored - expected).max()),
        "max_rel_error": float((np.abs(stored - expected) / np.maximum(np.abs(expected), 1e-3)).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--top-k", type=int, default=20)
    args = parser.parse_args()
    runs = []
    for vocab in VOCABS:
        with tempfile.TemporaryDirectory() as tmp:
            run = measure(args.records, args.tokens, args.top_k, vocab, Path(tmp))
        run["dense_fp16_bytes_per_token"] = vocab * 2
        run["dense_fp16_over_stored"] = vocab * 2 / run["parquet_bytes_per_token"]
        runs.append(run)
        print(
            f"V={vocab:>7,}: {run['parquet_bytes_per_token']:.1f} B/token in Parquet (top-{args.top_k}; "
            f"journal {run['journal_bytes_per_token']:.0f} B/token while harvesting); dense fp16 would be "
            f"{vocab * 2:,} B/token = {run['dense_fp16_over_stored']:.0f}x more; float16 error <= "
            f"{run['max_abs_error_nats']:.4f} nats ({run['max_rel_error']:.2%} relative)"
        )
    result = {
        "benchmark": "signal_bytes",
        "top_k": args.top_k,
        "records": args.records,
        "tokens_per_record": args.tokens,
        "runs": runs,
        "goal": "parquet_bytes_per_token <= 150",
    }
    out = ROOT / "benchmarks/results/signal_bytes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
