"""What distillation costs over plain SFT: step time with top-k KD, peak memory of the full-vocab loss.

    python benchmarks/kd_step_cost.py [--quick] [--part all|step|memory|train-memory] [--vocab 150000]

1. Step time. One training step (forward, objective, backward, AdamW) of one Llama-style model (50M
   parameters, vocabulary 32k: about the body-to-output-layer FLOP ratio of Qwen2.5-0.5B) on one batch,
   through the trainer's own pieces (``collate`` + ``Objective``): plain SFT, and top-k KD (k = 20) at
   the default mix 0.5 * CE + 0.5 * KD and as pure KD. On one torch thread, timed in CPU seconds
   (``process_time``): on a shared machine wall time mostly measures the neighbours. Steps alternate
   between the modes and medians are compared. Goal: KD / SFT <= 1.15.
2. Peak memory of a full-vocabulary GJSD (beta 0.5) forward + backward at a 150k vocabulary: TRL's
   ``GKDTrainer.generalized_jsd_loss`` against distillab's ``gjsd`` with ``chunk_size``. Each runs in
   its own process; the number is the process's peak RSS (``ru_maxrss``) minus its RSS once the inputs
   (student and teacher logits, float32) exist, i.e. what the loss itself needs, including the
   student-logit gradient that any method must produce. Goal: chunked / TRL <= 0.5.
3. Peak memory of a whole train step at SmolLM2's vocabulary (``--part train-memory``): forward, the
   trainer's ``Objective`` and backward of a student shaped like SmolLM2-135M cut to 6 layers (hidden
   576, 9 heads / 3 key-value heads, MLP 1536, vocabulary 49,152, tied embeddings: the shape of
   ``distillab student --layers 6``; random weights, which do not change memory) on 8 x 256 tokens.
   Modes: cross-entropy (SFT) plain and chunked, full-vocabulary forward KL from a local teacher's
   logits (kd-weight 1) unchunked and through the chunked path (``--chunk-size``), and chunked at
   kd-weight 0.5, where the cross-entropy term is computed too (chunked as well). Each runs in its own
   process; the number is the peak RSS during the step (``/proc/self/clear_refs`` resets the
   high-water mark just before it) minus the RSS just before it, when the model, the batch and the
   teacher's logits exist. RSS includes what glibc keeps of freed chunk temporaries: run with
   ``MALLOC_MMAP_THRESHOLD_=1048576`` to see the live-tensor floor instead.

Writes benchmarks/results/kd_step_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "kd_step_cost.json"
TOP_K = 20


def _examples(batch: int, length: int, prompt: int, vocab: int, seed: int = 0) -> list[Any]:
    from distillab.train.encode import Example

    rng = np.random.default_rng(seed)
    examples = []
    for i in range(batch):
        ids = rng.integers(0, vocab, size=length).tolist()
        n = length - prompt
        top = np.stack([rng.choice(vocab, size=TOP_K, replace=False) for _ in range(n)]).astype(np.int64)
        logprobs = np.sort(np.log(rng.dirichlet(np.ones(TOP_K + 5), size=n)[:, :TOP_K]), axis=1)[:, ::-1]
        examples.append(Example(ids, prompt, f"p{i}", top, np.ascontiguousarray(logprobs, dtype=np.float32)))
    return examples


def _objectives(model_config: Any, settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The trainer's ``Objective`` for each named set of ``TrainConfig`` settings."""
    from distillab.train.config import TrainConfig
    from distillab.train.objective import Objective

    with tempfile.TemporaryDirectory() as tmp:  # TrainConfig checks that the student has a config.json
        model_config.save_pretrained(tmp)
        paths = {"student": Path(tmp), "data": Path(tmp), "out": Path(tmp) / "o"}
        return {name: Objective(TrainConfig(**paths, **kw)) for name, kw in settings.items()}


def step_time(args: argparse.Namespace) -> dict[str, Any]:
    """Median step seconds for sft, KD at W = 0.5 and KD at W = 1 on one model and batch."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from distillab.train.collate import collate

    vocab = args.step_vocab
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=args.dim,
        intermediate_size=4 * args.dim,
        num_hidden_layers=args.layers,
        num_attention_heads=args.dim // 64,
        num_key_value_heads=args.dim // 64,
        max_position_embeddings=args.length,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batch = collate(_examples(args.batch, args.length, args.length // 8, vocab), pad_id=0, top_k=TOP_K)
    modes = _objectives(
        config,
        {
            "sft": {"loss": "sft"},
            "topk_kd_w0.5": {"loss": "fkl", "kd_weight": 0.5},
            "topk_kd_w1.0": {"loss": "fkl", "kd_weight": 1.0},
        },
    )

    def step(objective: Any) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        objective(logits, batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.process_time() - cpu, time.perf_counter() - wall

    cpu_times: dict[str, list[float]] = {name: [] for name in modes}
    wall_times: dict[str, list[float]] = {name: [] for name in modes}
    for round_ in range(args.warmup + args.rounds):
        for name, objective in modes.items():
            cpu, wall = step(objective)
            if round_ >= args.warmup:
                cpu_times[name].append(cpu)
                wall_times[name].append(wall)
    medians = {name: statistics.median(values) for name, values in cpu_times.items()}
    return {
        "model": {
            "vocab": vocab,
            "hidden": args.dim,
            "layers": args.layers,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "batch": {
            "sequences": args.batch,
            "length": args.length,
            "completion_tokens": int(batch.kd_mask.sum()),
            "top_k": TOP_K,
        },
        "rounds": args.rounds,
        "measure": "CPU seconds per step (process_time), one torch thread: robust to other processes' load",
        "median_step_s": medians,
        "median_wall_s": {name: statistics.median(values) for name, values in wall_times.items()},
        "ratio_kd_w0.5_vs_sft": medians["topk_kd_w0.5"] / medians["sft"],
        "ratio_kd_w1.0_vs_sft": medians["topk_kd_w1.0"] / medians["sft"],
        "goal_ratio": 1.15,
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_worker(method: str, tokens: int, vocab: int, chunk: int) -> dict[str, Any]:
    """Run in a fresh process: peak RSS above the inputs for one GJSD forward + backward."""
    torch.manual_seed(0)
    student = torch.randn(1, tokens, vocab).requires_grad_(True)
    teacher = torch.randn(1, tokens, vocab)
    labels = torch.zeros(1, tokens, dtype=torch.long)
    baseline = _rss_bytes()
    start = time.perf_counter()
    if method == "trl":
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
        from trl.experimental.gkd import GKDTrainer

        loss = GKDTrainer.generalized_jsd_loss(student, teacher, labels, beta=0.5)
    else:
        from distillab.train.losses import gjsd

        chunk_size = chunk if method == "chunked" else None
        loss = gjsd(student, teacher, labels != -100, beta=0.5, chunk_size=chunk_size)
    loss.backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    return {
        "method": method,
        "loss": float(loss),
        "seconds": seconds,
        "peak_above_inputs_bytes": peak - baseline,
        "inputs_bytes": 2 * student.numel() * 4,
    }


def memory(args: argparse.Namespace) -> dict[str, Any]:
    runs = {}
    methods = ["trl", "plain"] + [f"chunked-{c}" for c in args.chunk_sizes]
    for method in methods:
        name, _, chunk = method.partition("-")
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-worker",
                name,
                "--tokens",
                str(args.tokens),
                "--vocab",
                str(args.vocab),
                "--chunk-size",
                chunk or "0",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        runs[method] = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"  {method}: peak above inputs {runs[method]['peak_above_inputs_bytes'] / 2**20:,.0f} MiB "
            f"in {runs[method]['seconds']:.2f}s (loss {runs[method]['loss']:.6f})",
            flush=True,
        )
    trl = runs["trl"]["peak_above_inputs_bytes"]
    return {
        "vocab": args.vocab,
        "tokens": args.tokens,
        "dtype": "float32",
        "runs": runs,
        "ratio_vs_trl": {m: runs[m]["peak_above_inputs_bytes"] / trl for m in methods if m != "trl"},
        "goal_ratio": 0.5,
        "same_loss": all(
            abs(runs[m]["loss"] - runs["trl"]["loss"]) < 1e-4 * abs(runs["trl"]["loss"]) for m in methods
        ),
    }


def _train_modes(chunk_sizes: list[int]) -> dict[str, dict[str, Any]]:
    """Name -> TrainConfig settings of each train-memory mode."""
    modes: dict[str, dict[str, Any]] = {
        "ce_plain": {"loss": "sft"},
        f"ce_chunked_{chunk_sizes[0]}": {"loss": "sft", "chunk_size": chunk_sizes[0]},
        "kl_plain": {"loss": "fkl", "kd_weight": 1.0},
    }
    for chunk in chunk_sizes:
        modes[f"kl_chunked_{chunk}"] = {"loss": "fkl", "kd_weight": 1.0, "chunk_size": chunk}
    modes[f"kl_chunked_{chunk_sizes[0]}_w0.5"] = {
        "loss": "fkl",
        "kd_weight": 0.5,
        "chunk_size": chunk_sizes[0],
    }
    return modes


def _memory_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def train_memory_worker(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run in a fresh process: peak RSS of one forward + objective + backward above what existed before."""
    import gc

    from transformers import LlamaConfig, LlamaForCausalLM

    from distillab.train.collate import collate

    torch.set_num_threads(1)
    vocab, length = args.train_vocab, args.train_length
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=args.train_layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=length,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    (objective,) = _objectives(config, {mode: _train_modes(args.chunk_sizes)[mode]}).values()
    batch = collate(_examples(args.train_batch, length, length // 8, vocab), pad_id=0, top_k=TOP_K)
    # A local teacher's logits, as the trainer gets them (float32 on CPU); SFT has no teacher.
    teacher = torch.randn(args.train_batch, length, vocab) if objective.distill else None
    gc.collect()
    before = _memory_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS high-water mark to the current RSS
    start = time.perf_counter()
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    terms = objective(logits, batch, teacher)
    terms.loss.backward()
    seconds = time.perf_counter() - start
    peak = _memory_kib("VmHWM")
    return {
        "mode": mode,
        "loss": float(terms.loss.detach()),
        "ce": float(terms.ce),
        "kd": None if terms.kd is None else float(terms.kd),
        "seconds": seconds,
        "rss_before_bytes": before * 1024,
        "peak_above_before_bytes": (peak - before) * 1024,
        "logits_bytes": logits.numel() * logits.element_size(),
        "trained_positions": terms.tokens,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def train_memory(args: argparse.Namespace) -> dict[str, Any]:
    runs = {}
    modes = _train_modes(args.chunk_sizes)
    for mode in modes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--train-worker",
                mode,
                "--chunk-sizes",
                ",".join(map(str, args.chunk_sizes)),
                "--train-vocab",
                str(args.train_vocab),
                "--train-layers",
                str(args.train_layers),
                "--train-batch",
                str(args.train_batch),
                "--train-length",
                str(args.train_length),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        runs[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"  {mode}: peak above the step's start {runs[mode]['peak_above_before_bytes'] / 2**20:,.0f} MiB "
            f"in {runs[mode]['seconds']:.1f}s (loss {runs[mode]['loss']:.4f})",
            flush=True,
        )
    base = runs["ce_plain"]["peak_above_before_bytes"]
    plain_kl = runs["kl_plain"]["peak_above_before_bytes"]
    kl_modes = [m for m in modes if m.startswith("kl_")]
    return {
        "student": {
            "shape": "SmolLM2-135M cut to --train-layers (hidden 576, heads 9/3, MLP 1536, tied)",
            "layers": args.train_layers,
            "vocab": args.train_vocab,
            "parameters": runs["ce_plain"]["parameters"],
        },
        "batch": {
            "sequences": args.train_batch,
            "length": args.train_length,
            "prompt": args.train_length // 8,
        },
        "trained_positions": runs["ce_plain"]["trained_positions"],
        "dtype": "float32 (CPU)",
        "measure": "peak RSS during forward + objective + backward minus RSS just before (fresh process)",
        "runs": runs,
        "ratio_vs_ce_plain": {m: runs[m]["peak_above_before_bytes"] / base for m in modes if m != "ce_plain"},
        "ratio_vs_kl_plain": {
            m: runs[m]["peak_above_before_bytes"] / plain_kl for m in kl_modes if m != "kl_plain"
        },
        "same_kl": all(
            abs(runs[m]["kd"] - runs["kl_plain"]["kd"]) < 1e-4 * abs(runs["kl_plain"]["kd"]) for m in kl_modes
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller model")
    parser.add_argument("--vocab", type=int, default=150_000, help="vocabulary of the memory comparison")
    parser.add_argument("--tokens", type=int, default=256, help="token positions of the memory comparison")
    parser.add_argument(
        "--chunk-sizes",
        type=lambda v: [int(c) for c in v.split(",")],
        default=[128, 32],
        help="chunk sizes of the chunked loss to measure, comma-separated",
    )
    parser.add_argument("--chunk-size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--step-vocab", type=int, default=32_000, help="vocabulary of the step-time model")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--train-vocab", type=int, default=49_152, help="train-memory: vocabulary")
    parser.add_argument("--train-layers", type=int, default=6, help="train-memory: student layers")
    parser.add_argument("--train-batch", type=int, default=8, help="train-memory: sequences")
    parser.add_argument("--train-length", type=int, default=256, help="train-memory: tokens per sequence")
    parser.add_argument(
        "--part",
        choices=["all", "step", "memory", "train-memory"],
        default="all",
        help="measure only one part (the others are kept from the previous result file)",
    )
    parser.add_argument("--memory-worker", choices=["trl", "chunked", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--train-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        print(json.dumps(memory_worker(args.memory_worker, args.tokens, args.vocab, args.chunk_size)))
        return
    if args.train_worker:
        print(json.dumps(train_memory_worker(args.train_worker, args)))
        return
    if args.quick:
        args.rounds, args.length = 3, 128
    previous = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    steps, mem, train = previous.get("step_time"), previous.get("memory"), previous.get("train_memory")
    if args.part in ("all", "step"):
        print("step time (median CPU seconds over rounds, alternating modes, 1 thread):", flush=True)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        steps = step_time(args)
        torch.set_num_threads(threads)
        for name, seconds in steps["median_step_s"].items():
            print(f"  {name}: {seconds * 1000:.0f} ms")
        print(
            f"  KD (W=0.5) / SFT = {steps['ratio_kd_w0.5_vs_sft']:.3f}, KD (W=1) / SFT = "
            f"{steps['ratio_kd_w1.0_vs_sft']:.3f} (goal <= 1.15)"
        )
        steps["command"] = " ".join(["python benchmarks/kd_step_cost.py", *sys.argv[1:]])
    if args.part in ("all", "memory"):
        print(
            f"peak memory, GJSD forward + backward, vocab {args.vocab:,}, {args.tokens} positions:",
            flush=True,
        )
        mem = memory(args)
        ratios = ", ".join(f"{m} / TRL = {r:.3f}" for m, r in mem["ratio_vs_trl"].items())
        print(f"  {ratios} (goal <= 0.5)")
        mem["command"] = " ".join(["python benchmarks/kd_step_cost.py", *sys.argv[1:]])
    if args.part in ("all", "train-memory"):
        print(
            f"peak memory of a train step, vocab {args.train_vocab:,}, {args.train_layers}-layer "
            f"SmolLM2-shaped student, {args.train_batch} x {args.train_length} tokens:",
            flush=True,
        )
        train = train_memory(args)
        ratios = ", ".join(f"{m} / CE = {r:.2f}" for m, r in train["ratio_vs_ce_plain"].items())
        print(f"  {ratios}")
        train["command"] = " ".join(["python benchmarks/kd_step_cost.py", *sys.argv[1:]])
    result = {
        "benchmark": "kd_step_cost",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "step_time": steps,
        "memory": mem,
        "train_memory": train,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
