"""What the contest's steps return, as typed fields; ``to_json()`` is the content of the file each one writes
(traffic.json, proof.json, membership.json, OUT/summary.json: the same keys as ever), and ``from_json`` reads
back the files a rerun reuses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from distillab.demo.config import ContestConfig
from distillab.detect.result import DetectSummary
from distillab.provenance.evidence import TestResult


@dataclass
class TestBrief:
    """One hypothesis test, in brief: what the report shows of it."""

    __test__ = False  # not a pytest test class

    name: str
    question: str
    p_value: float
    significant: bool
    verdict: str
    effect: dict[str, float]
    sample_sizes: dict[str, int]

    @classmethod
    def of(cls, result: TestResult) -> TestBrief:
        return cls(
            name=result.name,
            question=result.question,
            p_value=result.p_value,
            significant=result.significant,
            verdict=result.verdict(),
            effect=result.effect,
            sample_sizes=result.sample_sizes,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestBrief:
        return cls(**data)


@dataclass
class Proof:
    """The tests of one suspect; proof.json holds the first two, membership is run (and cached) apart."""

    radioactivity: list[TestBrief]
    attribution: list[TestBrief]
    membership: list[TestBrief] = field(default_factory=list)
    """The membership test of the served answers, or none when every answer was degraded."""

    def tests(self) -> list[TestBrief]:
        return [*self.radioactivity, *self.membership, *self.attribution]

    def to_json(self) -> dict[str, Any]:
        return {
            "radioactivity": [t.to_json() for t in self.radioactivity],
            "attribution": [t.to_json() for t in self.attribution],
            "membership": [t.to_json() for t in self.membership],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proof:
        return cls(
            radioactivity=[TestBrief.from_json(t) for t in data["radioactivity"]],
            attribution=[TestBrief.from_json(t) for t in data["attribution"]],
            membership=[TestBrief.from_json(t) for t in data.get("membership", [])],
        )


@dataclass
class CampaignTraffic:
    accounts: int
    queries: int
    answered: int
    degraded: int
    blocked_accounts: int
    statuses: dict[str, int]
    completion_tokens: int


@dataclass
class HonestTraffic:
    accounts: int
    requests: int
    statuses: dict[str, int]


@dataclass
class Flag:
    """One decision of the live detector."""

    account: str
    campaign: bool
    decision: str
    reason: str | None
    at_s: float
    """Seconds into the round."""
    after_queries: int | None
    """Queries the account had sent by then (campaign accounts only)."""


@dataclass
class SentQuery:
    """One campaign query and what came back (traffic.json only)."""

    index: int
    account: str
    sent: float
    status: int
    degraded: bool


@dataclass
class TrafficSummary:
    """What a round sent and got back: traffic.json."""

    defense: str
    seconds: float
    campaign: CampaignTraffic
    honest: HonestTraffic
    flags: list[Flag]
    answers: list[SentQuery]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrafficSummary:
        return cls(
            defense=data["defense"],
            seconds=data["seconds"],
            campaign=CampaignTraffic(**data["campaign"]),
            honest=HonestTraffic(**data["honest"]),
            flags=[Flag(**f) for f in data["flags"]],
            answers=[SentQuery(**a) for a in data["answers"]],
        )


@dataclass
class CurvePoint:
    share: float
    """Of the full harvest."""
    answers: int
    score: float | None


@dataclass
class RoundResult:
    """One round under one defense: its traffic (without the per-query detail), the offline detector, the
    extraction curve and the proof on the attacker's student."""

    defense: str
    seconds: float
    campaign: CampaignTraffic
    honest: HonestTraffic
    flags: list[Flag]
    settings: dict[str, str | int | float]
    detect: DetectSummary
    curve: list[CurvePoint]
    student_score: float | None
    proof: Proof

    def to_json(self) -> dict[str, Any]:
        return {
            "defense": self.defense,
            "seconds": self.seconds,
            "campaign": asdict(self.campaign),
            "honest": asdict(self.honest),
            "flags": [asdict(f) for f in self.flags],
            "settings": self.settings,
            "detect": self.detect.to_json(),
            "curve": [asdict(p) for p in self.curve],
            "student_score": self.student_score,
            "proof": self.proof.to_json(),
        }


@dataclass
class TeacherScore:
    path: str
    score: float | None


@dataclass
class ControlResult:
    """The control student, which never saw the teacher's answers."""

    score: float | None
    proof: Proof


def config_settings(config: ContestConfig) -> dict[str, Any]:
    """The contest's settings as summary.json records them (the teacher's build settings left out)."""
    return {k: (str(v) if k == "out" else v) for k, v in vars(config).items() if k != "teacher"}


@dataclass
class ContestResult:
    """Everything the contest measured; OUT/summary.json is `to_json()`, OUT/report.html tells it."""

    task: str
    metric: str
    reference_losses: dict[str, float] | None
    """The text task's held-out losses of the teacher and the untrained student (None on arith)."""
    teacher: TeacherScore
    untrained_student_score: float | None
    control: ControlResult
    rounds: dict[str, RoundResult]
    """By defense name, in the order they ran."""
    config: ContestConfig
    seconds: float
    report: str = ""
    """OUT/report.html (not in summary.json, which the report is made from)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "reference_losses": self.reference_losses,
            "teacher": asdict(self.teacher),
            "untrained_student_score": self.untrained_student_score,
            "control": {"score": self.control.score, "proof": self.control.proof.to_json()},
            "rounds": {name: r.to_json() for name, r in self.rounds.items()},
            "config": config_settings(self.config),
            "seconds": self.seconds,
        }
