"""An independent traffic generator for testing the detector.

Written from public descriptions of distillation attacks (Anthropic's Feb 2026 post on detecting and
preventing distillation attacks; Google Threat Intelligence and OpenAI reports on model extraction),
not from `distillab.detect.simulate` or the detector's features, so that the detector can be measured
on traffic it was not tuned on. It writes a week of request-log records (DESIGN.md format) for N
accounts from one seed, with the labels in a separate file: honest personas (chat users, students,
developers, benchmark runners, RAG integrations, a translation app, labelling companies, an assistant
app, a tutoring app, content writers) and campaign
kinds (hydra proxy networks, chain-of-thought elicitation, low-and-slow paraphrasers, log-probability
harvesters, data augmentation, a pivot to a newly released model).

    from traffic import TrafficConfig, generate, write_labels, write_log
    traffic = generate(TrafficConfig(accounts=600, seed=3))
    write_log(traffic, Path("week.parquet"))            # or .jsonl
    write_labels(traffic, Path("week.labels.jsonl"))     # account, label ('benign' or campaign id), kind
    write_log(traffic.honest(), Path("honest.parquet"))  # the same week without the campaigns

Tests import it as `traffic` (tests/ is on sys.path through its conftest); benchmarks add tests/ to
sys.path. benchmarks/detect_generalize.py runs `distillab detect` on it.
"""

from .generate import Traffic, TrafficConfig, generate
from .write import write_labels, write_log

__all__ = ["Traffic", "TrafficConfig", "generate", "write_labels", "write_log"]
