"""`distillab prove attribution` on tiny real models: calibration, power, the CLI end to end (one reference
served over loopback HTTP) and bad input. The statistics themselves are tested in test_mmd.py."""

from __future__ import annotations

import json
import random
import shutil
import socket
import sys
import time
import types
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.cli.main import main
from distillab.models import Engine
from distillab.models import running as engine_module
from distillab.provenance.attribution import AttributionConfig, run_attribution
from distillab.provenance.samples import sample
from distillab.serving import create_app, run_in_background
from distillab.toy.models import ModelSize, build_model

PROMPT_COUNT = 10
PAIRS = [(a, b) for a in range(10, 30) for b in range(2, 10)]
REFERENCE_TEXTS = [f"Ann has {a} pens. She gets {b} more. Answer: {a + b}" for a, b in PAIRS]
OTHER_TEXTS = [f"Ann has {a} pens. Bob takes {b}, so {a - b} are left." for a, b in PAIRS]


def _train(
    model: torch.nn.Module, tokenizer: AutoTokenizer, texts: list[str], steps: int, lr: float, seed: int
) -> None:
    tokenizer.padding_side = "right"
    batch = tokenizer([t + tokenizer.eos_token for t in texts], return_tensors="pt", padding=True)
    labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        rows = torch.randint(len(texts), (32,), generator=generator)
        loss = model(
            input_ids=batch.input_ids[rows], attention_mask=batch.attention_mask[rows], labels=labels[rows]
        ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


@pytest.fixture(scope="module")
def world(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    """ref: a tiny model taught one way of continuing 'Ann has N pens.'; tuned: ref fine-tuned a little
    further (a model derived from ref); other: another seed taught a different continuation."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("attribution")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    size = ModelSize(layers=2, dim=64, heads=4, max_positions=256)
    dirs = {}
    for name, texts, seed in (("ref", REFERENCE_TEXTS, 1), ("other", OTHER_TEXTS, 2)):
        model = build_model(tokenizer, size, seed=seed)
        _train(model, tokenizer, texts, steps=60, lr=1e-2, seed=seed)
        dirs[name] = root / name
        model.save_pretrained(dirs[name])
        tokenizer.save_pretrained(dirs[name])
    tuned = AutoModelForCausalLM.from_pretrained(dirs["ref"])
    _train(tuned, tokenizer, REFERENCE_TEXTS, steps=5, lr=1e-3, seed=3)
    dirs["tuned"] = root / "tuned"
    tuned.save_pretrained(dirs["tuned"])
    tokenizer.save_pretrained(dirs["tuned"])
    prompts = root / "prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps({"id": f"q{a}", "prompt": f"Ann has {a} pens."}) + "\n"
            for a in range(11, 11 + PROMPT_COUNT)
        )
    )
    return types.SimpleNamespace(prompts=prompts, root=root, **dirs)


@pytest.fixture
def seeded_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unseeded requests draw their seeds from here instead of the OS: reproducible, still independent."""
    seeds = types.SimpleNamespace(randbits=random.Random(0).getrandbits)
    monkeypatch.setattr(engine_module, "secrets", seeds)


def _config(
    world: types.SimpleNamespace, out: Path, suspect: Path | str, *references: Path | str, **overrides: object
) -> AttributionConfig:
    settings: dict[str, object] = {
        "prompts": world.prompts,
        "samples_per_prompt": 8,
        "max_tokens": 12,
        "permutations": 999,
        "progress": False,
    }
    settings.update(overrides)
    return AttributionConfig(
        suspect=str(suspect), references=tuple(str(r) for r in references), out=out, **settings
    )  # type: ignore[arg-type]


def test_samples_are_grouped_by_prompt_and_resumed(
    world: types.SimpleNamespace, tmp_path: Path, seeded_sampling: None
) -> None:
    out = tmp_path / "samples" / "ref"
    first = sample(str(world.ref), world.prompts, out, n=3, temperature=1.0, max_tokens=12, progress=False)
    assert sorted(first) == sorted(f"q{a}" for a in range(11, 11 + PROMPT_COUNT))
    assert all(len(v) == 3 for v in first.values())
    assert sum(text.startswith(" She gets") for v in first.values() for text in v) >= 20  # learned its texts
    assert sample(
        str(world.ref), world.prompts, out, n=2, temperature=1.0, max_tokens=12, progress=False
    ) == {k: v[:2] for k, v in first.items()}  # resumed, not asked again
    # Another model in the same place is sampled afresh, not mixed with the stored samples.
    other = sample(str(world.other), world.prompts, out, n=2, temperature=1.0, max_tokens=12, progress=False)
    assert other != {k: v[:2] for k, v in first.items()}


def test_same_model_twice_gives_unremarkable_p_values(
    world: types.SimpleNamespace, tmp_path: Path, seeded_sampling: None
) -> None:
    # Suspect and reference are the same model sampled independently: H0 holds. The synthetic calibration
    # tests check uniformity over hundreds of seeds; here a few real runs must not look significant.
    ps = []
    for run in range(3):
        copy = tmp_path / f"copy{run}"
        shutil.copytree(world.ref, copy)  # another path: sampled independently, not resumed
        config = _config(world, tmp_path / f"run{run}", world.ref, copy, samples_per_prompt=6)
        results = run_attribution(config)
        ps.append(results[0].p_value)
    assert min(ps) > 0.01 and sum(p <= 0.05 for p in ps) <= 1, ps


def test_derived_model_is_attributed_to_its_origin_and_other_model_is_not(
    world: types.SimpleNamespace, tmp_path: Path, seeded_sampling: None
) -> None:
    results = run_attribution(_config(world, tmp_path / "tuned", world.tuned, world.ref, world.other))
    by_name = {r.name.split(":")[0]: r for r in results if "equality" not in r.name}
    equality = {r.details["reference"]: r for r in results if "equality" in r.name}
    assert len(results) == 3
    assert equality[str(world.other)].p_value <= 0.001 + 1e-12  # clearly different: the smallest p there is
    assert equality[str(world.other)].effect["standardized_effect_z"] > 5
    assert equality[str(world.ref)].effect["mmd2"] < equality[str(world.other)].effect["mmd2"]
    closer = by_name["attribution/closer"]
    assert closer.p_value < 1e-4 and closer.significant
    assert closer.effect["mmd2_to_candidate"] < closer.effect["mmd2_to_control"]
    assert closer.sample_sizes == {
        "prompts": PROMPT_COUNT,
        "suspect_samples": 8 * PROMPT_COUNT,
        "candidate_samples": 8 * PROMPT_COUNT,
        "control_samples": 8 * PROMPT_COUNT,
        "prompts_left_out": 0,
    }
    # One-sided: with the wrong model as the candidate, the same samples point away from it.
    reverse = run_attribution(_config(world, tmp_path / "wrong", world.tuned, world.other, world.ref))
    assert reverse[-1].p_value > 0.99 and reverse[-1].effect["standardized_effect"] < 0
    written = json.loads((tmp_path / "tuned" / "evidence.json").read_text())
    assert [t["name"] for t in written["tests"]] == [r.name for r in results]


def _main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """Run `distillab ARGS` in this process: (exit code, stdout, stderr without line wrapping)."""
    monkeypatch.setattr(sys, "argv", ["distillab", *args])
    monkeypatch.setenv("COLUMNS", "500")
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


def test_cli_end_to_end_with_a_reference_served_over_http(
    world: types.SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    seeded_sampling: None,
) -> None:
    out = tmp_path / "cli"
    app = create_app(Engine.load(world.other), model_name="other-model")
    with run_in_background(app) as base_url:
        url = base_url + "/v1"
        args = [
            "prove",
            "attribution",
            "--suspect",
            str(world.tuned),
            "--reference",
            str(world.ref),
            "--reference",
            url,
            "--prompts",
            str(world.prompts),
            "--samples-per-prompt",
            "4",
            "--max-tokens",
            "12",
            "--permutations",
            "199",
            "--out",
            str(out),
            "--no-progress",
        ]
        code, stdout, err = _main(monkeypatch, capsys, *args)
        assert code == 0, err
        assert f"attribution/closer: {world.ref} vs {url}: p = " in stdout and "evidence.html" in stdout
        document = json.loads((out / "evidence.json").read_text())
        assert [t["name"] for t in document["tests"]] == [
            f"attribution/equality: {world.ref}",
            f"attribution/equality: {url}",
            f"attribution/closer: {world.ref} vs {url}",
        ]
        assert document["tests"][1]["p_value"] <= 0.05  # the served model is clearly different
        manifest = json.loads((out / "samples" / "reference-2" / "manifest.json").read_text())
        assert manifest["teacher"]["endpoint"] == url and manifest["counts"]["records"] == 4 * PROMPT_COUNT
        html = (out / "evidence.html").read_text()
        assert url in html and "How to read this" in html
        # A rerun resumes: every sample is stored, nothing is asked again.
        code, _, err = _main(monkeypatch, capsys, *args)
        assert code == 0 and err.count("resuming: 40 records already stored, 0 to go") == 3, err


def test_cli_bad_input_names_the_file_line_or_url(
    world: types.SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["prove", "attribution", "--out", str(tmp_path / "o"), "--no-progress"]
    suspect = ["--suspect", str(world.ref)]
    missing = tmp_path / "missing.jsonl"
    code, _, err = _main(
        monkeypatch, capsys, *base, *suspect, "--reference", str(world.other), "--prompts", str(missing)
    )
    assert code == 1 and f"--prompts '{missing}': file not found" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n{"id": "x"}\n')
    code, _, err = _main(
        monkeypatch, capsys, *base, *suspect, "--reference", str(world.other), "--prompts", str(bad)
    )
    assert code == 1 and f"{bad}:2: needs exactly one of 'messages' or 'prompt'" in err
    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"id": "a", "prompt": "one"}\n{"id": "a", "prompt": "two"}\n')
    code, _, err = _main(
        monkeypatch, capsys, *base, *suspect, "--reference", str(world.other), "--prompts", str(twice)
    )
    assert code == 1 and f"{twice}:2: id 'a' was already used at {twice}:1" in err
    code, _, err = _main(
        monkeypatch,
        capsys,
        *base,
        *suspect,
        "--reference",
        str(tmp_path / "nope"),
        "--samples-per-prompt",
        "1",
    )
    assert code == 1 and f"--reference '{tmp_path / 'nope'}' is neither an http(s) URL" in err
    assert "--samples-per-prompt must be at least 2" in err
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    # The suspect is sampled first: an unreachable one fails before any model is loaded.
    once = ["--reference", str(world.ref), "--prompts", str(world.prompts), "--max-retries", "0"]
    code, _, err = _main(monkeypatch, capsys, *base, "--suspect", closed, *once)
    assert code == 1 and closed in err and "error:" in err
    timeout = ["--reference", str(world.ref), "--timeout", "0"]
    code, _, err = _main(monkeypatch, capsys, *base, *suspect, *timeout)
    assert code == 1 and "--timeout must be positive (got 0.0)" in err
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        stalled = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        started = time.monotonic()
        code, _, err = _main(monkeypatch, capsys, *base, "--suspect", stalled, *once, "--timeout", "0.5")
    assert code == 1 and "no answer within 0.5s" in err, err
    assert time.monotonic() - started < 60  # the default would wait 120 s for each answer
