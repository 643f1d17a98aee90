"""What a trained student carries with it: ``distillab_train.json`` (provenance) and a ``README.md`` card.

The JSON is the record tools read (``distillab eval``, reports): which teacher, which dataset (its
directory and the sha256 of its manifest, so a changed harvest is noticed), which loss with which
parameters, how long and on how many tokens, and the final losses, next to the resolved config.
The card says the same for people, in the Hugging Face model-card layout.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from distillab.train.config import RUN_ONLY, TrainConfig
from distillab.train.losses import LOSSES

PROVENANCE = "distillab_train.json"


def write_provenance(out: Path, record: dict[str, Any]) -> Path:
    path = out / PROVENANCE
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def command(config: dict[str, Any]) -> str:
    """The ``distillab train`` command line that reproduces ``config`` (flags left at default omitted)."""
    parts = ["distillab train"]
    for f in fields(TrainConfig):
        value = config[f.name]
        default = None if f.default is MISSING else f.default
        default = str(default) if f.name in ("student", "data", "out") else default
        if f.name in RUN_ONLY or value == default:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else f"--no-{flag[2:]}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def render_card(record: dict[str, Any]) -> str:
    """A model card (YAML front matter + Markdown) from the provenance record."""
    config, teacher, data = record["config"], record["teacher"], record["dataset"]
    loss = record["loss"]
    params = ", ".join(f"{k}={v}" for k, v in loss["params"].items()) or "none"
    method = loss.get("cross_tokenizer")
    cross = f"; cross-tokenizer (the student's tokenizer is not the teacher's): `{method}`" if method else ""
    results = [
        ("steps", record["steps"]),
        ("tokens seen", record["tokens_seen"]),
        ("train loss (last steps)", record["train_loss"]),
        ("eval loss", record["eval"].get("loss")),
        ("eval cross-entropy", record["eval"].get("ce")),
        ("eval KD", record["eval"].get("kd")),
        ("training seconds", f"{record['seconds']:.1f}"),
    ]
    rows = "\n".join(f"| {name} | {_fmt(value)} |" for name, value in results if value is not None)
    mode = f"from a harvest ({data['signal']})"
    if config["teacher"]:
        mode = "online from the teacher's full logits"
    if config["on_policy"]:
        mode += f", {config['on_policy']:.0%} of batches on-policy"
    lora = "full fine-tuning"
    if config["lora_r"]:
        lora = f"LoRA r={config['lora_r']} (merged; adapter in `adapter/`)"
    return f"""---
library_name: transformers
base_model: {config["student"]}
tags:
- distillab
- distillation
---

# Student distilled from {teacher["name"]}

Trained with distillab {record["distillab_version"]}: {mode}, {lora}.

- **Teacher:** {teacher["name"]} ({teacher.get("endpoint") or "endpoint not recorded"})
- **Dataset:** `{data["path"]}` (manifest sha256 `{data["manifest_sha256"][:16]}...`,
  {data["records"]} records, {data["train_examples"]} train / {data["eval_examples"]} eval examples,
  split by prompt)
- **Loss:** `{config["loss"]}`, {LOSSES[config["loss"]].summary}; params: {params};
  temperature {loss["temperature"]}; mix `(1 - W) * CE + W * T^2 * KD` with W = {loss["kd_weight"]}{cross}
- **Optimisation:** AdamW lr {config["lr"]}, batch {config["batch_size"]} x {config["grad_accum"]}
  accumulation x {record["processes"]} processes, {record["precision"]} precision

| result | value |
|---|---|
{rows}

Only distill from teachers whose terms allow it; the harvest's manifest records the terms note given at
harvest time. Full provenance is in `{PROVENANCE}`.

Reproduce (see `{PROVENANCE}` for every setting):

```
{command(config)}
```
"""


def write_card(out: Path, record: dict[str, Any]) -> Path:
    path = out / "README.md"
    path.write_text(render_card(record), encoding="utf-8")
    return path
