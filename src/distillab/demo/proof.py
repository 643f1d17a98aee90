"""The proof side of the contest: radioactivity and attribution tests of one suspect student.

- Radioactivity (open mode): the suspect reads the teacher's *plain* answers to held-out prompts (made by
  the provider from its own unwatermarked model, so `unmarked_texts` is valid) and its most likely next
  tokens are scored against the watermark key; exact binomial p over distinct (context, token) pairs.
- Attribution: completions of the suspect, the teacher and an unrelated "bystander" student to the same
  held-out prompts; is the suspect closer to the teacher than to the bystander (one-sided t-test over
  prompts on the MMD difference), and is it the teacher itself (MMD permutation test).

The texts and prompts are made once in OUT/world and shared by every suspect.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rich.console import Console

from distillab.demo.config import ContestConfig
from distillab.demo.results import Proof, TestBrief
from distillab.demo.world import World, cached
from distillab.toy.prompts import write_rows


def plain_texts(world: World, config: ContestConfig, console: Console) -> Path:
    """The teacher's unwatermarked answers to held-out problems (the provider runs its own model)."""
    from distillab.data.config import HarvestConfig
    from distillab.data.harvest import run_harvest

    prompts = write_rows(
        world.task.rows("test", config.radioactivity_texts, seed=config.seed + 7),
        world.root / "radioactivity-prompts.jsonl",
    )
    out = world.root / "plain-texts"
    cached(
        out,
        {
            "teacher": str(world.teacher),
            "task": config.task,
            "n": config.radioactivity_texts,
            "seed": config.seed + 7,
        },
        lambda: run_harvest(
            HarvestConfig(
                teacher=str(world.teacher),
                prompts=prompts,
                out=out,
                max_tokens=world.max_tokens,
                temperature=1.0,
                top_logprobs=0,
                overwrite=True,
                terms="the provider's own model",
                progress=console.is_terminal,
            ),
            console=console,
        ),
        done="manifest.json",
    )
    return out


def attribution_prompts(world: World, config: ContestConfig) -> Path:
    return write_rows(
        world.task.rows("test", config.attribution_prompts, seed=config.seed + 9),
        world.root / "attribution-prompts.jsonl",
    )


def share_reference_samples(out: Path, world: World) -> None:
    """Point the attribution run's reference sample directories at one shared set in the world, so the
    teacher and the bystander are sampled once for every suspect. `sample()` still checks that the stored
    samples are of the very same model (its fingerprint stamp) and resumes or redoes them otherwise."""
    for role in ("reference-1", "reference-2"):
        shared = world.root / "attribution-samples" / role
        shared.mkdir(parents=True, exist_ok=True)
        (out / "samples").mkdir(parents=True, exist_ok=True)
        for name, target in ((role, shared), (f"{role}.model", shared.with_name(f"{role}.model"))):
            link = out / "samples" / name
            if not link.is_symlink():
                if link.is_dir():
                    shutil.rmtree(link)
                link.unlink(missing_ok=True)
                link.symlink_to(target)


def prove(suspect: Path, out: Path, world: World, config: ContestConfig, console: Console) -> Proof:
    """Run both tests on `suspect` into `out`; returns their p-values and verdicts (also in
    out/proof.json)."""
    from distillab.provenance import (
        AttributionConfig,
        RadioactivityConfig,
        run_attribution,
        run_radioactivity,
    )
    from distillab.provenance.report import write_evidence

    texts = plain_texts(world, config, console)
    prompts = attribution_prompts(world, config)
    settings = {
        "suspect": (suspect / "distillab_train.json").read_text(),
        "texts": str(texts),
        "prompts": prompts.read_text(),
        "samples": config.attribution_samples,
        "key": world.key_file.read_text(),
        "bystander": (world.bystander / "distillab_train.json").read_text(),
    }

    def run() -> None:
        console.print(f"radioactivity test of {suspect}")
        radioactive = run_radioactivity(
            RadioactivityConfig(
                suspect=str(suspect),
                out=out / "radioactivity",
                key_file=world.key_file,
                mode="open",
                texts=texts,
                unmarked_texts=True,
                tokenizer=world.teacher,
                progress=console.is_terminal,
            ),
            console=console,
        )
        console.print(f"attribution test of {suspect}")
        share_reference_samples(out / "attribution", world)
        attributed = run_attribution(
            AttributionConfig(
                suspect=str(suspect),
                references=(str(world.teacher), str(world.bystander)),
                out=out / "attribution",
                prompts=prompts,
                samples_per_prompt=config.attribution_samples,
                max_tokens=min(40, world.max_tokens),
                seed=config.seed,
                progress=console.is_terminal,
            ),
            console=console,
        )
        write_evidence([*radioactive, *attributed], out)
        proof = Proof([TestBrief.of(r) for r in radioactive], [TestBrief.of(r) for r in attributed])
        written = {k: v for k, v in proof.to_json().items() if k != "membership"}  # run apart, see membership
        (out / "proof.json").write_text(json.dumps(written, indent=1) + "\n")

    out.mkdir(parents=True, exist_ok=True)
    cached(out / "proof.json", settings, run, done="")
    return Proof.from_json(json.loads((out / "proof.json").read_text()))
