"""lm-evaluation-harness through `distillab serve` against lm-eval's own `hf` backend, on one model.

    python benchmarks/lm_eval_serve.py                      # SmolLM2-135M-Instruct (make real-model)
    python benchmarks/lm_eval_serve.py --model runs/teacher --items 64

The task is the test suite's local multiple-choice task (tests/serving/test_lm_eval.py: a YAML over a
JSONL file, arithmetic questions with four choices), `--items` questions. lm-eval runs twice as a user
runs it: `--model hf` on the model directory (in its own process, CPU, float32), and `--model
local-completions` against `distillab serve` started as a subprocess on loopback (lm-eval tokenizes with
the server's `/tokenize`, then scores echoed prompt log-probabilities). Reported: each one's accuracy and
wall time (the server's start and model load included for serve, the model load included for hf), and
the largest difference between the two in any choice's log-likelihood. A GGUF model is its dequantized
copy, not the upstream weights. Writes benchmarks/results/lm_eval_serve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "serving"))

from test_lm_eval import lm_eval, write_task  # noqa: E402

from distillab.models import model_dir  # noqa: E402
from distillab.serving.process import serve_process  # noqa: E402

REAL = Path.home() / ".cache/distillab/real/SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--model", type=Path, default=REAL, help="a model directory or .gguf file")
    parser.add_argument("--items", type=int, default=64, help="questions in the task (four choices each)")
    parser.add_argument("--concurrent", type=int, default=2, help="lm-eval's num_concurrent for the server")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/lm_eval_serve.json")
    args = parser.parse_args()
    directory = model_dir(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        task = write_task(work, args.items)
        tick = time.monotonic()
        hf_acc, hf_ll, _ = lm_eval(
            task, work / "hf", "--model", "hf", "--model_args", f"pretrained={directory},dtype=float32",
            "--device", "cpu",
        )  # fmt: skip
        hf_s = time.monotonic() - tick
        tick = time.monotonic()
        with serve_process(directory, extra_args=("--model-name", "m"), log=work / "serve.log") as url:
            api_acc, api_ll, _ = lm_eval(
                task, work / "api", "--model", "local-completions",
                "--model_args", f"base_url={url}/completions,model=m,num_concurrent={args.concurrent}",
            )  # fmt: skip
        api_s = time.monotonic() - tick
    gap = max(abs(a - b) for a, b in zip(api_ll, hf_ll, strict=True))
    result = {
        "benchmark": "lm_eval_serve",
        "model": str(args.model),
        "items": args.items,
        "choices_scored": len(hf_ll),
        "hf": {"accuracy": hf_acc, "wall_s": round(hf_s, 1)},
        "distillab_serve": {
            "accuracy": api_acc,
            "wall_s": round(api_s, 1),
            "num_concurrent": args.concurrent,
        },
        "max_loglikelihood_difference": gap,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }
    print(
        f"hf: accuracy {hf_acc:.3f} in {hf_s:.1f} s; distillab serve: accuracy {api_acc:.3f} "
        f"in {api_s:.1f} s; "
        f"largest log-likelihood difference {gap:.2g} over {len(hf_ll)} choices"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
