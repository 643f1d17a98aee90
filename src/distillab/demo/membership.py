"""The contest's membership test: was the suspect trained on the very answers the gateway served the
campaign? (`distillab prove membership`.)

Per round, the provider takes up to `membership_prompts` answers the campaign received in full (degraded
ones were served with other settings and are left out), and samples `membership_samples` fresh answers
to each of the same prompts from its own teacher, served exactly as the gateway serves it (the same
watermark key and delta, temperature 1, the world's max_tokens). Every suspect (the round's student,
and the control against the first round's answers) then scores served against fresh answers.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from distillab.atomic import write_text
from distillab.demo.config import ContestConfig
from distillab.demo.results import TestBrief, TrafficSummary
from distillab.demo.world import World, cached
from distillab.errors import DataError


def served_answers(where: Path, config: ContestConfig) -> Path:
    """The round's first `membership_prompts` campaign answers that were not degraded, as a JSONL of
    request-log-like rows (prompt, response) in `where/membership-served.jsonl`."""
    from distillab.data.records import read_records

    traffic = TrafficSummary.from_json(json.loads((where / "traffic.json").read_text()))
    degraded = {f"q{a.index:06d}" for a in traffic.answers if a.degraded}
    rows = read_records(where / "harvest", columns=["prompt_id", "messages", "completion"]).to_pylist()
    kept = [r for r in rows if r["prompt_id"] not in degraded and r["completion"]][
        : config.membership_prompts
    ]
    out = where / "membership-served.jsonl"
    write_text(
        out,
        "".join(
            json.dumps({"messages": r["messages"], "response": r["completion"], "status": 200}) + "\n"
            for r in kept
        ),
    )
    return out


def fresh_answers(where: Path, world: World, config: ContestConfig, console: Console) -> Path:
    """`membership_samples` fresh answers to each served prompt, from the teacher served as the gateway
    serves it (watermarked with the world's key), in `where/membership-fresh` (a harvest directory)."""
    from distillab.models.generate import Engine
    from distillab.provenance.config import WatermarkConfig
    from distillab.provenance.keys import load_key
    from distillab.provenance.samples import sample
    from distillab.provenance.watermark import Watermarker
    from distillab.serving.app import create_app
    from distillab.serving.background import run_in_background

    served = where / "membership-served.jsonl"
    prompts = where / "membership-prompts.jsonl"
    write_text(
        prompts,
        "".join(
            json.dumps({"id": f"m{i}", "messages": json.loads(line)["messages"]}) + "\n"
            for i, line in enumerate(served.read_text().splitlines())
        ),
    )
    out = where / "membership-fresh"

    def run() -> None:
        master = load_key(world.key_file)
        assert master is not None
        watermarker = Watermarker(WatermarkConfig(delta=config.watermark_delta), master)
        app = create_app(Engine.load(world.teacher), model_name=world.model_name, watermarker=watermarker)
        console.print(
            f"membership: {config.membership_samples} fresh answers to each of "
            f"{len(served.read_text().splitlines())} served prompts, from the watermarked teacher"
        )
        with run_in_background(app) as url:
            sample(
                url + "/v1",
                prompts,
                out,
                n=config.membership_samples,
                temperature=1.0,
                max_tokens=world.max_tokens,
                progress=console.is_terminal,
                console=console,
                terms="the provider's own model (fresh answers for the membership test)",
            )

    cached(
        out,
        {
            "served": served.read_text(),
            "n": config.membership_samples,
            "teacher": str(world.teacher),
            "delta": config.watermark_delta,
            "key": world.key_file.read_text(),
        },
        run,
        done="manifest.json",
    )
    return out


def membership(
    suspect: Path, where: Path, out: Path, world: World, config: ContestConfig, console: Console
) -> list[TestBrief]:
    """The membership test of `suspect` against round `where`'s served answers: its brief (cached in `out`)
    in a list, or no test when every answer was degraded."""
    from distillab.provenance.membership import MembershipConfig, run_membership

    served = served_answers(where, config)
    if not served.read_text().strip():
        console.print(f"membership test of {suspect}: skipped, every answer of {where.name} was degraded")
        return []
    fresh = fresh_answers(where, world, config, console)
    result_file = out / "membership.json"

    def run() -> None:
        console.print(f"membership test of {suspect} against {where.name}'s served answers")
        result = run_membership(
            MembershipConfig(
                suspect=str(suspect), served=served, alternatives=fresh, out=out, progress=console.is_terminal
            ),
            console=console,
        )
        write_text(result_file, json.dumps(TestBrief.of(result).to_json(), indent=1) + "\n")

    try:
        cached(
            result_file,
            {
                "suspect": (suspect / "distillab_train.json").read_text(),
                "served": served.read_text(),
                "fresh": (fresh / "manifest.json").read_text(),
            },
            run,
            done="",
        )
    except (
        DataError
    ) as exc:  # e.g. every fresh answer came back empty: no test, the rest of the contest goes on
        console.print(f"membership test of {suspect}: skipped ({exc})")
        return []
    return [TestBrief.from_json(json.loads(result_file.read_text()))]
