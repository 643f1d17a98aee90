"""The real client: lm-evaluation-harness's `local-completions` against `distillab serve` scores a
multiple-choice task exactly as lm-eval's own `hf` backend does on the same model directory.

lm-eval finds `/tokenizer_info` and `/tokenize`, so it tokenizes with the server's tokenizer, then asks for
echoed prompt log-probabilities (`echo`, `logprobs: 1`, `max_tokens: 1`, batches of token-id prompts) and
sums `token_logprobs[ctxlen:-1]`. A server without echo would score the task at chance, silently.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from distillab.models import Engine, model_dir
from distillab.serving import create_app, run_in_background

pytestmark = pytest.mark.slow

ITEMS = 16


def write_task(root: Path, items: int = ITEMS) -> Path:
    """A local multiple-choice task: a YAML over a JSONL file (lm-eval's `dataset_path: json`)."""
    rng = random.Random(0)
    rows = []
    for _ in range(items):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        choices = [str(a + b + d) for d in (0, 1, -1, 2)]
        rng.shuffle(choices)
        question = f"Ann has {a} pens. She gets {b} more. How many pens does she have?"
        rows.append({"question": question, "choices": choices, "answer": choices.index(str(a + b))})
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "mc.yaml").write_text(
        "task: distillab_mc\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {root / 'items.jsonl'}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        'doc_to_text: "Question: {{question}}\\nAnswer:"\n'
        'doc_to_choice: "{{choices}}"\n'
        "doc_to_target: answer\n"
        "metric_list:\n  - metric: acc\n"
    )
    return root


def lm_eval(task_dir: Path, out: Path, *model: str) -> tuple[float, list[float], str]:
    """Run the lm_eval CLI; return the accuracy, every choice's log-likelihood, and its log."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [
            sys.executable, "-m", "lm_eval", *model, "--tasks", "distillab_mc",
            "--include_path", str(task_dir), "--output_path", str(out), "--log_samples", "--batch_size", "8",
        ],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    [results] = out.glob("*/results_*.json")
    [samples] = out.glob("*/samples_distillab_mc_*.jsonl")
    rows = sorted((json.loads(line) for line in samples.read_text().splitlines()), key=lambda r: r["doc_id"])
    loglikelihoods = [float(resp[0][0]) for row in rows for resp in row["resps"]]
    accuracy = json.loads(results.read_text())["results"]["distillab_mc"]["acc,none"]
    return accuracy, loglikelihoods, done.stderr


def check_same_scores(directory: Path, tmp_path: Path) -> None:
    task_dir = write_task(tmp_path)
    hf_acc, hf_ll, _ = lm_eval(
        task_dir, tmp_path / "hf", "--model", "hf", "--model_args", f"pretrained={directory},dtype=float32",
        "--device", "cpu",
    )  # fmt: skip
    with run_in_background(create_app(Engine.load(directory), model_name="m")) as base_url:
        api_acc, api_ll, log = lm_eval(
            task_dir, tmp_path / "api", "--model", "local-completions",
            "--model_args", f"base_url={base_url}/v1/completions,model=m,num_concurrent=2",
        )  # fmt: skip
    assert "remote tokenizer" in log.lower()  # it used the server's tokenizer, not a hub download
    assert len(api_ll) == len(hf_ll) == 4 * ITEMS
    assert api_ll == pytest.approx(hf_ll, abs=1e-3)
    assert api_acc == pytest.approx(hf_acc, abs=0.005)


def test_lm_eval_local_completions_matches_its_hf_backend(tiny_model_dir: Path, tmp_path: Path) -> None:
    check_same_scores(tiny_model_dir, tmp_path)


@pytest.mark.real
def test_lm_eval_on_the_real_model(real_gguf: Path, tmp_path: Path) -> None:
    check_same_scores(model_dir(real_gguf), tmp_path)
