"""What `run_eval` returns: the report as typed fields. ``to_json()`` is report.json's content (same keys as
ever); ``from_json`` reads a report.json back (a resumed `distillab distill`, the demo's cached evals)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

URL_NOTE = "the model is a URL: no weights to score"


@dataclass
class Size:
    parameters: int | None
    """None for a URL, or when no weight file is safetensors."""
    disk_bytes: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Speed:
    requests: int
    completion_tokens: int | None
    """None when no request was timed (then left out of the JSON)."""
    tokens_per_s: float | None
    latency_ms_p50: float | None
    latency_ms_p95: float | None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "completion_tokens" or v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Speed:
        return cls(**{"completion_tokens": None, **data})


@dataclass
class TokenParity:
    top1_agreement: float | None
    kl: float | None
    """Mean KL(teacher || student) in nats per token; None when the teacher gave no log-probs."""
    positions: int
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "top1_agreement": self.top1_agreement,
            "kl": self.kl,
            "positions": self.positions,
            "note": self.note,
        }


@dataclass
class TaskInfo:
    name: str
    items: int
    checker: str | None


@dataclass
class ModelScore:
    """One role's model: accuracy on the task (None without a checker), size, and speed when measured."""

    name: str
    accuracy: float | None
    correct: int | None
    answered: int
    size: Size
    speed: Speed | None = None
    reference_loss: float | None = None
    """Mean cross-entropy (nats/token) on the task's reference answers; None: no references, or a URL."""

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in ("name", "accuracy", "correct", "answered", "reference_loss")}
        data["size"] = self.size.to_json()
        if self.speed is not None:
            data["speed"] = self.speed.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelScore:
        speed = data.get("speed")
        return cls(
            name=data["name"],
            accuracy=data["accuracy"],
            correct=data["correct"],
            answered=data["answered"],
            size=Size(**data["size"]),
            speed=Speed.from_json(speed) if speed is not None else None,
            reference_loss=data.get("reference_loss"),
        )


@dataclass
class Parity:
    """A model against the teacher; ``token`` is None when the model is a URL (no weights to score)."""

    answer_agreement: float | None
    accuracy_ratio: float | None
    token: TokenParity | None
    share_of_teacher: float | None = None
    """(baseline loss - loss) / (baseline loss - teacher loss) on the reference answers: the share of the
    teacher's gain over the baseline (the untrained student) that this model reached. None without
    references, a local teacher and a local baseline, or for the baseline itself."""

    def to_json(self) -> dict[str, Any]:
        return {
            "answer_agreement": self.answer_agreement,
            "accuracy_ratio": self.accuracy_ratio,
            "token": self.token.as_dict() if self.token else {"note": URL_NOTE},
            "share_of_teacher": self.share_of_teacher,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Parity:
        token = data["token"]
        return cls(
            data["answer_agreement"],
            data["accuracy_ratio"],
            TokenParity(**token) if "positions" in token else None,
            data.get("share_of_teacher"),
        )


@dataclass
class Training:
    """What `distillab train` recorded about the evaluated model (distillab_train.json)."""

    loss: str
    kd_weight: float | None
    steps: int | None
    tokens_seen: int | None
    seconds: float | None
    dataset: str | None
    manifest_sha256: str | None


@dataclass
class HarvestInfo:
    """Queries, tokens and cost of the harvest the model learned from (its manifest)."""

    path: str
    teacher: str | None
    endpoint: str | None
    signal: str | None
    queries: int | None
    records: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    terms: str | None


@dataclass
class Example:
    """One task item with each role's completion (keyed by role, as in the JSON)."""

    id: str
    prompt: str
    answer: str | None
    completions: dict[str, str | None]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": self.prompt, "answer": self.answer, **self.completions}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Example:
        rest = {k: v for k, v in data.items() if k not in ("id", "prompt", "answer")}
        return cls(data["id"], data["prompt"], data["answer"], rest)


@dataclass
class EvalReport:
    format_version: int
    distillab_version: str
    created: str
    task: TaskInfo
    models: dict[str, ModelScore]
    """By role: "model", "teacher", "baseline" (those evaluated)."""
    parity: dict[str, Parity]
    """By role ("model", "baseline"), when a teacher was evaluated."""
    training: Training | None
    harvest: HarvestInfo | None
    examples: list[Example]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """report.json's content."""
        return {
            "format_version": self.format_version,
            "distillab_version": self.distillab_version,
            "created": self.created,
            "task": asdict(self.task),
            "models": {role: m.to_json() for role, m in self.models.items()},
            "parity": {role: p.to_json() for role, p in self.parity.items()},
            "training": asdict(self.training) if self.training else None,
            "harvest": asdict(self.harvest) if self.harvest else None,
            "examples": [e.to_json() for e in self.examples],
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvalReport:
        """A report from report.json's content (as written by `to_json`)."""
        training, harvest = data.get("training"), data.get("harvest")
        return cls(
            format_version=data["format_version"],
            distillab_version=data["distillab_version"],
            created=data["created"],
            task=TaskInfo(**data["task"]),
            models={role: ModelScore.from_json(m) for role, m in data["models"].items()},
            parity={role: Parity.from_json(p) for role, p in data["parity"].items()},
            training=Training(**training) if training else None,
            harvest=HarvestInfo(**harvest) if harvest else None,
            examples=[Example.from_json(e) for e in data["examples"]],
            seconds=data["seconds"],
        )
