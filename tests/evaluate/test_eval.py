"""`run_eval` end to end on a tiny random model, against numbers computed without distillab's code."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.evaluate import EvalConfig, run_eval
from distillab.evaluate.result import URL_NOTE, EvalReport, Parity, Speed
from distillab.toy.models import ModelSize, build_model

PROMPTS = [
    f"Ann has {a} pens. She gets {b} more." for a, b in [(3, 4), (10, 2), (7, 7), (1, 9), (12, 5), (6, 0)]
]


def hf_greedy(model_dir: Path, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy chat completions straight from transformers' `generate`: the independent reference."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    out = []
    for prompt in prompts:
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )["input_ids"]
        with torch.no_grad():
            generated = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
        out.append(tokenizer.decode(generated[0, ids.shape[1] :], skip_special_tokens=True))
    return out


REPORT_KEYS = [
    "format_version",
    "distillab_version",
    "created",
    "task",
    "models",
    "parity",
    "training",
    "harvest",
    "examples",
    "seconds",
]


@pytest.fixture(scope="module")
def other_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second random model with the same tokenizer: a stand-in for an untrained student."""
    out = tmp_path_factory.mktemp("other")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = build_model(tokenizer, ModelSize(layers=1, dim=32, heads=2, max_positions=256), seed=5)
    # Untied, random output layer: tied random models all predict "repeat the last token", alike.
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(
        torch.randn(model.lm_head.weight.shape, generator=torch.Generator().manual_seed(5))
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_accuracy_matches_hand_built_answers_and_parity_with_itself(
    tiny_model_dir: Path, other_model: Path, tmp_path: Path
) -> None:
    completions = hf_greedy(tiny_model_dir, PROMPTS, max_new_tokens=6)
    # Items 0, 2 and 4 expect exactly what the model writes; the others expect something it never writes.
    right = {0, 2, 4}
    rows = [
        {
            "id": f"q{i}",
            "prompt": None,
            "messages": [{"role": "user", "content": p}],
            "answer": completions[i] if i in right else "no model writes this",
        }
        for i, p in enumerate(PROMPTS)
    ]
    task = tmp_path / "task.jsonl"
    task.write_text("".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in rows))
    config = EvalConfig(
        model=str(tiny_model_dir),
        teacher=str(tiny_model_dir),
        baseline=str(other_model),
        task=str(task),
        checker="exact",
        out=tmp_path / "eval",
        max_tokens=6,
        speed_requests=2,
        progress=False,
    )
    report = run_eval(config)
    model = report.models["model"]
    assert (model.correct, model.accuracy) == (3, 0.5)
    assert report.examples[0].completions["model"] == completions[0]
    same = report.parity["model"]
    assert same.token is not None and same.token.top1_agreement == 1.0
    assert same.token.kl == pytest.approx(0.0, abs=1e-4)
    assert same.answer_agreement == 1.0 and same.accuracy_ratio == 1.0
    other = report.parity["baseline"].token
    assert other is not None and other.top1_agreement is not None and other.kl is not None
    assert other.top1_agreement < 1.0 and other.kl > 0.1
    n_params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(tiny_model_dir).parameters())
    assert model.size.parameters == n_params
    assert model.speed is not None and model.speed.requests == 2
    assert model.speed.tokens_per_s is not None and model.speed.tokens_per_s > 0
    written = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert written["models"]["model"]["correct"] == 3

    # report.json keeps its keys, and is the returned report's JSON exactly (it reads back the same).
    assert list(written) == REPORT_KEYS
    assert list(written["task"]) == ["name", "items", "checker"]
    assert list(written["models"]) == ["model", "teacher", "baseline"]
    assert list(written["models"]["model"]) == [
        "name",
        "accuracy",
        "correct",
        "answered",
        "reference_loss",
        "size",
        "speed",
    ]
    assert list(written["models"]["model"]["size"]) == ["parameters", "disk_bytes"]
    assert list(written["models"]["model"]["speed"]) == [
        "requests",
        "completion_tokens",
        "tokens_per_s",
        "latency_ms_p50",
        "latency_ms_p95",
    ]
    assert list(written["parity"]) == ["model", "baseline"]
    assert list(written["parity"]["model"]) == [
        "answer_agreement",
        "accuracy_ratio",
        "token",
        "share_of_teacher",
    ]
    assert written["models"]["model"]["reference_loss"] is None  # the task has no references
    assert list(written["parity"]["model"]["token"]) == ["top1_agreement", "kl", "positions", "note"]
    assert list(written["examples"][0]) == ["id", "prompt", "answer", "model", "teacher", "baseline"]
    assert written == report.to_json()
    assert EvalReport.from_json(written) == report


def hf_reference_loss(model_dir: Path, prompts: list[str], references: list[str]) -> float:
    """Mean cross-entropy of the references after their chat prompts, straight from transformers."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    total, count = 0.0, 0
    for prompt, reference in zip(prompts, references):
        chat = [{"role": "user", "content": prompt}]
        head = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(
            [*chat, {"role": "assistant", "content": reference}], tokenize=False
        )
        assert full.startswith(head)
        ids = tokenizer(full, add_special_tokens=False, return_tensors="pt")["input_ids"]
        n_head = len(tokenizer(head, add_special_tokens=False)["input_ids"])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)
        picked = logprobs[torch.arange(ids.shape[1] - 1), ids[0, 1:]][n_head - 1 :]
        total -= float(picked.sum())
        count += picked.numel()
    return total / count


def test_open_ended_task_with_references_reports_losses_and_the_share_of_the_teacher(
    tiny_model_dir: Path, other_model: Path, tmp_path: Path
) -> None:
    references = [f"{a + b} pens in all." for a, b in [(3, 4), (10, 2), (7, 7), (1, 9), (12, 5), (6, 0)]]
    task = tmp_path / "task.jsonl"
    task.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "messages": [{"role": "user", "content": p}], "reference": r}) + "\n"
            for i, (p, r) in enumerate(zip(PROMPTS, references))
        )
    )
    config = EvalConfig(
        model=str(other_model),
        teacher=str(tiny_model_dir),
        baseline=str(other_model),
        task=str(task),
        out=tmp_path / "eval",
        max_tokens=4,
        speed_requests=0,
        progress=False,
    )
    report = run_eval(config)
    assert report.task.checker is None and report.models["model"].accuracy is None
    teacher_loss = hf_reference_loss(tiny_model_dir, PROMPTS, references)
    student_loss = hf_reference_loss(other_model, PROMPTS, references)
    assert report.models["teacher"].reference_loss == pytest.approx(teacher_loss, rel=1e-4)
    assert report.models["model"].reference_loss == pytest.approx(student_loss, rel=1e-4)
    # The model is its own baseline: it reached none of the teacher's gain (the gap is not zero).
    assert abs(student_loss - teacher_loss) > 0.01
    assert report.parity["model"].share_of_teacher == (0.0 if student_loss > teacher_loss else None)
    assert report.parity["baseline"].share_of_teacher is None
    assert "reference loss" in (tmp_path / "eval" / "report.html").read_text()


def test_optional_parts_keep_their_json_shape() -> None:
    """A URL has no weights to score and an untimed model no token count: both as report.json had them."""
    url = Parity(answer_agreement=0.5, accuracy_ratio=None, token=None)
    assert url.to_json() == {
        "answer_agreement": 0.5,
        "accuracy_ratio": None,
        "token": {"note": URL_NOTE},
        "share_of_teacher": None,
    }
    assert Parity.from_json(url.to_json()) == url
    untimed = Speed(0, None, None, None, None)
    assert untimed.to_json() == {
        "requests": 0,
        "tokens_per_s": None,
        "latency_ms_p50": None,
        "latency_ms_p95": None,
    }
    assert Speed.from_json(untimed.to_json()) == untimed


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "data") and value and not value.startswith("#"):
                self.external.append(f"{tag} {name}={value}")


def test_report_html_is_self_contained(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = EvalConfig(
        model=str(tiny_model_dir),
        teacher=str(tiny_model_dir),
        task="arith",
        n=4,
        max_tokens=4,
        speed_requests=1,
        out=tmp_path / "eval",
        progress=False,
    )
    run_eval(config)
    page = (tmp_path / "eval" / "report.html").read_text()
    parser = _Links()
    parser.feed(page)
    parser.close()
    assert parser.tags.count("svg") >= 3 and "table" in parser.tags
    assert parser.external == [] and "<script" not in page and "<link" not in page
    assert "@import" not in page and not re.search(
        r"url\((?!#)", page
    )  # url(#id): a clip path inside the page


def test_rerun_reuses_answers_until_the_model_changes(
    tiny_model_dir: Path, other_model: Path, tmp_path: Path
) -> None:
    from distillab.data.records import read_records

    base = dict(task="arith", n=3, max_tokens=4, speed_requests=0, out=tmp_path / "eval", progress=False)
    run_eval(EvalConfig(model=str(tiny_model_dir), **base))  # type: ignore[arg-type]
    answers = tmp_path / "eval" / "answers" / "model"
    created = read_records(answers, columns=["created"]).column("created").to_pylist()
    run_eval(EvalConfig(model=str(tiny_model_dir), **base))  # type: ignore[arg-type]
    assert read_records(answers, columns=["created"]).column("created").to_pylist() == created
    run_eval(EvalConfig(model=str(other_model), **base))  # type: ignore[arg-type]
    assert read_records(answers, columns=["created"]).column("created").to_pylist() != created
