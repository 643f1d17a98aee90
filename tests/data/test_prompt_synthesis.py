"""`distillab prompts synthesize`: Magpie and self-instruct with a tiny local teacher and over HTTP, through
the harvest (resume after kill -9, budget, limits), and bad input refused before anything is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_openai import refused_url
from transformers import AutoTokenizer

from distillab.data.journal import read_journal
from distillab.data.promptgen.config import SynthesizeConfig
from distillab.data.promptgen.filtering import jaccard, shingles
from distillab.data.promptgen.magpie import magpie_prefix
from distillab.data.promptgen.synthesize import run_synthesis
from distillab.data.prompts import read_prompts
from distillab.data.records import read_records
from distillab.errors import BudgetExceeded, ConfigError

# Wide enough that rich does not wrap paths; one torch thread, as in-process tests use (on a busy CPU,
# threads of a tiny model's small ops fighting others make generation several times slower).
ENV = dict(os.environ, COLUMNS="500", OMP_NUM_THREADS="1")
SEEDS = [
    "How do I sort a list?",
    "What does merge do to a table?",
    "How do I read a file?",
    "What does split do to a string?",
    "How do I count a word?",
    "What does copy do to a record?",
    "How do I format a number?",
    "What does join do to a path?",
]


def _cmd(teacher: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "distillab.cli.main",
        "prompts",
        "synthesize",
        "--teacher",
        teacher,
        "--out",
        str(out),
        "--no-progress",
        "--max-tokens",
        "24",
        "--retry-base-delay",
        "0.01",
        *extra,
    ]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV, check=False)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _seeds(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"s{i}", "messages": [{"role": "user", "content": s}]}) + "\n"
            for i, s in enumerate(SEEDS)
        )
    )
    return path


def test_magpie_prefix_comes_from_the_chat_template(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert magpie_prefix(tokenizer) == "<|user|>\n"
    assert (
        magpie_prefix(tokenizer, system="Ask about Python.")
        == "<|system|>\nAsk about Python.<|end|>\n<|user|>\n"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}[{{ m['role'] | upper }}] {{ m['content'] }}\n{% endfor %}"
    )
    assert magpie_prefix(tokenizer) == "[USER] "
    tokenizer.chat_template = None
    with pytest.raises(ConfigError, match="no chat template"):
        magpie_prefix(tokenizer)


def test_magpie_with_a_local_teacher_through_the_cli(question_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "magpie"
    result = _run(
        _cmd(str(question_teacher), out, "--count", "24", "--seed", "5", "--terms", "our toy model")
    )
    assert result.returncode == 0, result.stderr
    assert "kept" in result.stdout and "24 new samples" in result.stdout
    assert _rows(out / "requests.jsonl") == [{"id": "magpie", "prompt": "<|user|>\n"}]
    rows = _rows(out / "prompts.jsonl")
    assert rows and len(read_prompts(out / "prompts.jsonl")) == len(rows)
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        source = row["source"]
        assert source["kind"] == "magpie" and source["teacher"] == question_teacher.name
        assert source["request"] == "magpie" and 0 <= source["sample"] < 24
        assert row["messages"][0]["role"] == "user" and row["messages"][0]["content"].strip()
    # The trained toy writes questions like those it learnt, and ends its turn.
    assert sum(r["messages"][0]["content"].endswith("?") for r in rows) >= len(rows) / 2
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["candidates"] == 24 and counts["kept"] == len(rows)
    assert counts["kept"] + sum(counts["dropped"].values()) == 24
    assert manifest["harvest"]["terms"] == "our toy model" and manifest["identity"]["prefix"] == "<|user|>\n"
    harvest_manifest = json.loads((out / "harvest" / "manifest.json").read_text())
    assert harvest_manifest["terms"] == "our toy model" and harvest_manifest["counts"]["records"] == 24


@pytest.mark.slow  # two processes each load torch and the model
def test_kill_9_then_rerun_loses_and_repeats_nothing(question_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "magpie"
    cmd = _cmd(str(question_teacher), out, "--count", "40", "--concurrency", "2", "--seed", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    harvest = out / "harvest"
    deadline = time.monotonic() + 120
    while sum(1 for _ in read_journal(harvest)) < 6 if harvest.exists() else True:
        assert proc.poll() is None and time.monotonic() < deadline, (
            "synthesis ended before it could be killed"
        )
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = sorted(r["sample_index"] for r in read_journal(harvest))
    assert 6 <= len(stored) < 40 and not (out / "prompts.jsonl").exists()
    rerun = _run(cmd)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming: {len(stored)} records already stored" in rerun.stderr
    assert f"{40 - len(stored)} new samples" in rerun.stdout
    table = read_records(harvest)
    assert sorted(table["sample_index"].to_pylist()) == list(range(40))
    assert len(set(table["id"].to_pylist())) == 40
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["candidates"] == 40
    samples = [r["source"]["sample"] for r in _rows(out / "prompts.jsonl")]
    assert len(samples) == len(set(samples)) == manifest["counts"]["kept"]


def test_self_instruct_shows_seeds_and_drops_their_copies(question_teacher: Path, tmp_path: Path) -> None:
    seeds = _seeds(tmp_path)
    config = SynthesizeConfig(
        teacher=str(question_teacher),
        method="self-instruct",
        seeds=seeds,
        count=12,
        max_tokens=24,
        seed=2,
        similarity=0.7,
        progress=False,
        out=tmp_path / "si",
    )
    result = run_synthesis(config)
    requests = _rows(tmp_path / "si" / "requests.jsonl")
    assert len(requests) == 12 and len({r["messages"][0]["content"] for r in requests}) == 12
    assert all(
        SEEDS[0] in r["messages"][0]["content"] or "1. " in r["messages"][0]["content"] for r in requests
    )
    rows = _rows(tmp_path / "si" / "prompts.jsonl")
    assert len(rows) == result.kept and result.kept + sum(result.dropped.values()) == 12
    for row in rows:
        assert row["source"]["kind"] == "self-instruct" and len(row["source"]["seeds"]) == 3
        assert set(row["source"]["seeds"]) <= {f"s{i}" for i in range(len(SEEDS))}
        words = shingles(row["messages"][0]["content"])
        assert all(jaccard(words, shingles(seed)) < 0.7 for seed in SEEDS)
    manifest = json.loads((tmp_path / "si" / "manifest.json").read_text())
    assert manifest["seeds"]["count"] == len(SEEDS) and manifest["method"] == "self-instruct"
    # Other seeds into the same --out is another synthesis: refused unless --overwrite.
    other = tmp_path / "other.jsonl"
    other.write_text(seeds.read_text().replace("list", "tuple"))
    with pytest.raises(ConfigError, match="holds a synthesis with another seeds"):
        run_synthesis(SynthesizeConfig(**{**config.__dict__, "seeds": other}))


def test_magpie_over_http_goes_through_the_harvest_budget(
    fake_server, tiny_model_dir: Path, tmp_path: Path
) -> None:
    fake, url = fake_server()
    out = tmp_path / "magpie"

    def config(budget: float) -> SynthesizeConfig:
        return SynthesizeConfig(
            teacher=url,
            tokenizer=str(tiny_model_dir),
            count=20,
            max_tokens=8,
            price_out=1000.0,
            budget_usd=budget,
            rpm=6000,
            retry_base_delay=0.01,
            progress=False,
            out=out,
        )

    with pytest.raises(BudgetExceeded):
        run_synthesis(config(0.05))
    assert not (out / "prompts.jsonl").exists()
    asked_first = sum(fake.asked.values())
    assert 1 <= asked_first < 20
    run_synthesis(config(1.0))
    assert sum(fake.asked.values()) == 20  # nothing asked twice
    assert all(body["prompt"] == "<|user|>\n" and body["n"] == 1 for body in fake.bodies)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["harvest"]["limits"]["rpm"] == 6000 and manifest["harvest"]["cost"]["budget_usd"] == 1
    # The fake server answers every request alike: one prompt kept, the rest are duplicates.
    assert manifest["counts"]["kept"] == 1 and manifest["counts"]["dropped"] == {"near_duplicate": 19}


def test_bad_seeds_fail_naming_the_file_and_write_nothing(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.jsonl"
    result = _run(_cmd(str(tiny_model_dir), out, "--method", "self-instruct", "--seeds", str(missing)))
    assert result.returncode == 1 and str(missing) in result.stderr and not out.exists()
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        '{"prompt": "How do I sort a list?"}\n{"messages": [{"role": "robot", "content": "x"}]}\n'
    )
    result = _run(_cmd(str(tiny_model_dir), out, "--method", "self-instruct", "--seeds", str(seeds)))
    assert result.returncode == 1 and f"{seeds}:2" in result.stderr and "role" in result.stderr
    assert not out.exists()
    result = _run(_cmd("http://127.0.0.1:9/v1", out, "--method", "magpie"))
    assert result.returncode == 1 and "--tokenizer is required" in result.stderr and not out.exists()
    with refused_url() as url:  # fails at the probe, before any request: nothing left behind
        result = _run(_cmd(url, out, "--tokenizer", str(tiny_model_dir), "--max-retries", "1"))
    assert result.returncode == 1 and url in result.stderr and not out.exists()
