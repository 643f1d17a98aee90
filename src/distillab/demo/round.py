"""One contest round under one defense, in OUT/round-DEFENSE/:

    gateway.db, gateway.log   the gateway's store (keys, request log, decisions) and its output
    labels.jsonl              which accounts were the campaign's (for scoring the detector; never shown to it)
    traffic.json              what the round sent and got back, and when each account was flagged live
    harvest/                  the attacker's harvest: every answer the campaign kept, in arrival order
    harvest-NN/               its first NN% (the extraction curve)
    student/, student-NN/     students trained on them
    eval/, eval-NN/           their score on held-out prompts (see `ContestConfig.metric`)
    detect/                   `distillab detect` over the round's log, calibrated on the honest reference
    prove/                    radioactivity and attribution tests of the attacker's student

Every step is skipped when its output is already there with the same settings, so a killed demo resumes.
The students and their scores come from `extraction`.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from distillab.atomic import write_text
from distillab.data.prompts import PromptRow
from distillab.data.written import write_harvest
from distillab.demo.config import ContestConfig
from distillab.demo.extraction import extraction_curve
from distillab.demo.results import (
    CampaignTraffic,
    Flag,
    HonestTraffic,
    RoundResult,
    SentQuery,
    TrafficSummary,
)
from distillab.demo.world import World, cached
from distillab.teacher.base import Generation

CAMPAIGN_LABEL = "campaign-demo"
HARVEST_TERMS = (
    "Simulated distillation campaign run by `distillab demo` against the provider's own teacher, through a "
    "gateway whose admin created every key: a red-team test of the provider's defenses."
)


def campaign_prompts(config: ContestConfig, world: World) -> list[list[dict[str, str]]]:
    return [row["messages"] for row in world.task.rows("train", config.campaign_queries, config.seed + 3)]


def honest_records(config: ContestConfig, url: str) -> list[dict[str, Any]]:
    from distillab.detect.simulate import SimulateConfig
    from distillab.detect.simulate.run import Traffic

    if not config.honest_requests:
        return []
    # Only the records are used (Traffic writes no file), but the config asks where labels would go.
    simulated = SimulateConfig(
        gateway=url,
        labels=Path(os.devnull + ".jsonl"),
        accounts=config.honest_accounts,
        days=1.0,
        attacker_share=0.0,
        seed=config.seed,
        rate_limit_rpm=config.rpm,
    )
    # The whole day's requests, then each account's first ones in turn, so the sample spreads over the
    # accounts instead of being the few that happen to start earliest; sent in time order.
    records = list(Traffic(simulated).records())
    rank: dict[str, int] = {}
    order = []
    for i, record in enumerate(records):
        rank[record["account"]] = rank.get(record["account"], -1) + 1
        order.append((rank[record["account"]], i))
    chosen = sorted(i for _, i in sorted(order)[: config.honest_requests])
    return [records[i] for i in chosen]


def gateway_args(config: ContestConfig, world: World, defense: str, db: Path) -> tuple[str, ...]:
    args = [
        "--db",
        str(db),
        "--model-name",
        world.model_name,
        "--rpm",
        str(config.rpm),
        "--max-batch",
        "32",
        "--watermark-key-file",
        str(world.key_file),
        "--watermark-delta",
        str(config.watermark_delta),
        "--degrade-max-tokens",
        str(config.degrade_max_tokens),
        "--no-log-fsync",
    ]
    if defense != "off":
        args += [
            "--detect-reference",
            str(world.reference_log),
            "--detect-every",
            str(config.detect_every),
            "--detect-action",
            "degrade" if defense == "detect+degrade" else "flag",
            # As the offline detect below: with MiniLM (auto, where installed) the gateway would first
            # embed the whole reference on 2 CPU cores, and its first scoring would come after the campaign.
            "--detect-embedder",
            "lexical",
        ]
    return tuple(args)


def wait_for_detector(base: str, console: Console, rounds: int = 2, timeout: float = 300.0) -> None:
    """Wait until the gateway's live detector has finished `rounds` more scoring rounds, so every request
    the round sent has been scored (the round under way may have taken its backlog before the last
    answer; the one after it has not) before the gateway stops: a provider's detector keeps running."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    def finished() -> float:
        text = httpx.get(f"{base}/metrics", timeout=30.0).text
        families = text_string_to_metric_families(text)
        counted = [s for f in families if f.name == "distillab_detector_rounds" for s in f.samples]
        return sum(s.value for s in counted if s.name.endswith("_total"))

    target = finished() + rounds
    deadline = time.monotonic() + timeout
    while finished() < target:
        if time.monotonic() > deadline:
            console.print(f"the live detector finished no {rounds} scoring rounds in {timeout:g} s; going on")
            return
        time.sleep(0.2)


def run_traffic(
    config: ContestConfig, world: World, defense: str, where: Path, console: Console
) -> TrafficSummary:
    """Serve, send the round's traffic, keep the attacker's harvest; returns what traffic.json holds."""
    from distillab.db.store import Store
    from distillab.demo.traffic import TOP_LOGPROBS, run_round
    from distillab.serving.process import serve_process

    for stale in ("gateway.db", "gateway.db-wal", "gateway.db-shm", "harvest"):
        path = where / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    db = where / "gateway.db"
    token = secrets.token_urlsafe(24)
    prompts = campaign_prompts(config, world)
    args = (*gateway_args(config, world, defense, db), "--admin-token-env", "DISTILLAB_DEMO_ADMIN_TOKEN")
    with serve_process(
        world.teacher, extra_args=args, log=where / "gateway.log", env={"DISTILLAB_DEMO_ADMIN_TOKEN": token}
    ) as url:
        base = url.removesuffix("/v1")
        honest = honest_records(config, base)
        console.print(
            f"gateway at {base} ({defense}); campaign: {len(prompts)} queries over "
            f"{config.campaign_accounts} accounts under {config.rpm} rpm; honest: {len(honest)} requests "
            f"from {len({r['account'] for r in honest})} accounts"
        )
        traffic = asyncio.run(
            run_round(
                base,
                token,
                world.model_name,
                prompts,
                honest,
                accounts=config.campaign_accounts,
                rpm=config.rpm,
                seed=config.seed,
                style=world.campaign,
                max_tokens=world.max_tokens,
            )
        )
        if defense != "off":
            wait_for_detector(base, console)
    labels = [
        {"account": a, "label": CAMPAIGN_LABEL, "kind": "many-accounts"} for a in traffic.campaign_accounts
    ]
    labels += [{"account": a, "label": "benign", "kind": "honest"} for a in traffic.honest_accounts]
    write_text(where / "labels.jsonl", "".join(json.dumps(row) + "\n" for row in labels))

    kept = [a for a in traffic.answers if a.generation is not None]
    rows = [PromptRow(prompts[a.index], f"q{a.index:06d}", f"campaign query {a.index}") for a in kept]
    generations: list[Generation] = [a.generation for a in kept if a.generation is not None]
    write_harvest(
        where / "harvest",
        rows,
        generations,
        teacher=world.model_name,
        endpoint="the demo gateway",
        terms=HARVEST_TERMS,
        params={"temperature": 1.0, "max_tokens": world.max_tokens, "top_logprobs": TOP_LOGPROBS},
    )

    with Store(db, create=False) as store:
        decisions = [d for d in store.list_decisions() if d["by"] == "detector"]
    campaign = set(traffic.campaign_accounts)
    sent_at: dict[str, list[float]] = {}
    for a in traffic.answers:
        sent_at.setdefault(a.account, []).append(a.sent)
    flags = []
    for d in decisions:
        at = round(d["ts"] - traffic.started_epoch, 2)
        flags.append(
            Flag(
                account=d["account"],
                campaign=d["account"] in campaign,
                decision=d["decision"],
                reason=d["reason"],
                at_s=at,
                after_queries=sum(t < at for t in sent_at.get(d["account"], []))
                if d["account"] in campaign
                else None,
            )
        )
    return TrafficSummary(
        defense=defense,
        seconds=traffic.seconds,
        campaign=CampaignTraffic(
            accounts=len(campaign),
            queries=len(prompts),
            answered=len(kept),
            degraded=sum(a.degraded for a in kept),
            blocked_accounts=len(traffic.blocked_accounts),
            statuses=traffic.campaign_statuses,
            completion_tokens=sum(g.completion_tokens for g in generations),
        ),
        honest=HonestTraffic(
            accounts=len(traffic.honest_accounts),
            requests=len(honest),
            statuses=traffic.honest_statuses,
        ),
        flags=flags,
        answers=[SentQuery(a.index, a.account, a.sent, a.status, a.degraded) for a in traffic.answers],
    )


def run_contest_round(config: ContestConfig, world: World, defense: str, console: Console) -> RoundResult:
    from distillab.demo.membership import membership
    from distillab.demo.proof import prove
    from distillab.detect.config import DetectConfig
    from distillab.detect.result import DetectSummary
    from distillab.detect.run import run_detect

    where = config.out / f"round-{defense}"
    where.mkdir(parents=True, exist_ok=True)
    console.rule(f"round: defense {defense}")
    settings: dict[str, str | int | float] = {
        "defense": defense,
        "campaign_accounts": config.campaign_accounts,
        "queries": config.campaign_queries,
        "honest_accounts": config.honest_accounts,
        "honest_requests": config.honest_requests,
        "rpm": config.rpm,
        "degrade": config.degrade_max_tokens,
        "every": config.detect_every,
        "delta": config.watermark_delta,
        "seed": config.seed,
        "teacher": str(world.teacher),
        "key": world.key_file.read_text(),
        "reference": str(world.reference_log),
    }
    traffic_file = where / "traffic.json"

    def send() -> None:
        sent = run_traffic(config, world, defense, where, console)
        write_text(traffic_file, json.dumps(sent.to_json(), indent=1) + "\n")

    cached(traffic_file, settings, send, done="")
    traffic = TrafficSummary.from_json(json.loads(traffic_file.read_text()))

    console.print("offline detection over the round's request log")
    detect_out = where / "detect"
    cached(
        detect_out,
        {"traffic": traffic_file.stat().st_mtime_ns},
        lambda: run_detect(
            DetectConfig(
                log=str(where / "gateway.db"),
                out=detect_out,
                labels=where / "labels.jsonl",
                reference=str(world.reference_log),
                embedder="lexical",  # as the round's live detector: the same detector live and offline
                progress=False,
            ),
            console=console,
        ),
        done="summary.json",
    )
    detected = DetectSummary.from_json(json.loads((detect_out / "summary.json").read_text()))

    # The extraction curve is the undefended leak rate: its smaller students are trained in the first
    # round only (a defended round adds its full-harvest point).
    curve = extraction_curve(config, world, where, defense == config.defenses[0], console)
    proof = prove(where / "student", where / "prove", world, config, console)
    proof.membership = membership(
        where / "student", where, where / "prove-membership", world, config, console
    )
    return RoundResult(
        defense=traffic.defense,
        seconds=traffic.seconds,
        campaign=traffic.campaign,
        honest=traffic.honest,
        flags=traffic.flags,  # per-query detail stays in traffic.json
        settings={k: v for k, v in settings.items() if k != "key"},
        detect=detected,
        curve=curve,
        student_score=curve[-1].score,
        proof=proof,
    )
