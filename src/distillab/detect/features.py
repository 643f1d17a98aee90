"""Per-account behaviour, accumulated one request at a time (constant work per request).

`AccountStats.add(record)` updates running counts; `features()` turns them into the numbers the
detector scores, each oriented so that larger means "more like distillation":

| feature | what it measures |
|---|---|
| cot_share | share of prompts asking for step-by-step reasoning |
| logprob_share | share of requests asking for log-probabilities |
| multi_sample_share | share of requests with n > 1 |
| answer_budget | log of the mean max_tokens asked for |
| single_shot_share | share of requests that are not part of a conversation |
| template_reuse | 1 - distinct prompt skeletons / requests (templated generators reuse skeletons) |
| breadth | distinct content words / sqrt(words): vocabulary growth (systematic coverage of a task space) |
| regularity | how even the gaps between requests are (1 / (1 + coefficient of variation)) |
| volume | log of requests per active day |

Linking data (IP prefixes, user agents, org, payment id, skeleton hashes, active hours) is kept too.
Text features are lexical (regular expressions and hashed words): fast, no model.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

COT = re.compile(r"step[- ]by[- ]step|show (?:your|all|the) (?:work|reasoning|steps)|explain (?:each|every|your) "
                 r"(?:step|reasoning)|think (?:it )?through|reason(?:ing)? (?:carefully|step)|chain[- ]of[- ]thought|"
                 r"walk me through|before (?:answering|giving the answer)", re.IGNORECASE)
WORD = re.compile(r"[a-z]{3,}")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
STOP = frozenset("the and for you are with this that what how can from your have not but all any was its"
                 " into when which will would there their about please also just like should could".split())
MAX_WORDS = 20_000
"""Distinct words remembered per account (hashes); beyond this breadth is measured on what fits."""
MAX_SKELETONS = 50_000
FEATURES = ("cot_share", "logprob_share", "multi_sample_share", "answer_budget", "single_shot_share",
            "template_reuse", "breadth", "regularity", "volume")


def prompt_text(record: dict[str, Any]) -> tuple[str, int]:
    """The newest user text of a request and how many earlier turns it carries."""
    messages = record.get("messages")
    if isinstance(messages, list) and messages:
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        last = users[-1] if users else messages[-1]
        content = last.get("content") if isinstance(last, dict) else ""
        if isinstance(content, list):  # content parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return str(content or ""), len(messages) - 1
    prompt = record.get("prompt")
    if isinstance(prompt, list):
        prompt = " ".join(str(p) for p in prompt)
    return str(prompt or ""), 0


def skeleton(text: str) -> int:
    """A hash of the prompt's shape: lowercased, numbers masked, first 8 and last 4 words."""
    words = NUMBER.sub("#", text.lower()).split()
    return zlib.crc32(" ".join(words[:8] + ["|"] + words[-4:]).encode())


def ip_prefix(ip: str | None) -> str | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one."""
    if not ip:
        return None
    if ":" in ip:
        return ":".join(ip.split(":")[:3]) + "::/48"
    parts = ip.split(".")
    return ".".join(parts[:3]) + ".0/24" if len(parts) == 4 else ip


@dataclass
class AccountStats:
    account: str
    n: int = 0
    first_ts: float = math.inf
    last_ts: float = -math.inf
    cot: int = 0
    logprobs: int = 0
    multi_sample: int = 0
    max_tokens_sum: float = 0.0
    conversational: int = 0
    words_total: int = 0
    gap_n: int = 0
    gap_mean: float = 0.0
    gap_m2: float = 0.0
    days: set[int] = field(default_factory=set)
    hours: dict[int, int] = field(default_factory=dict)
    """Requests per absolute hour (for timing synchrony between accounts)."""
    words: set[int] = field(default_factory=set)
    skeletons: set[int] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    orgs: set[str] = field(default_factory=set)
    payments: set[str] = field(default_factory=set)

    def add(self, record: dict[str, Any]) -> None:
        ts = float(record["ts"])
        if self.n:
            gap = math.log1p(max(0.0, ts - self.last_ts))
            self.gap_n += 1
            delta = gap - self.gap_mean
            self.gap_mean += delta / self.gap_n
            self.gap_m2 += delta * (gap - self.gap_mean)
        self.n += 1
        self.first_ts, self.last_ts = min(self.first_ts, ts), max(self.last_ts, ts)
        self.days.add(int(ts // 86400))
        hour = int(ts // 3600)
        self.hours[hour] = self.hours.get(hour, 0) + 1
        text, earlier_turns = prompt_text(record)
        params = record.get("params") or {}
        self.cot += bool(COT.search(text))
        self.logprobs += bool(params.get("logprobs") or params.get("top_logprobs"))
        self.multi_sample += (params.get("n") or 1) > 1 if isinstance(params.get("n") or 1, int) else 0
        budget = params.get("max_completion_tokens") or params.get("max_tokens")
        self.max_tokens_sum += float(budget) if isinstance(budget, (int, float)) else 256.0
        self.conversational += earlier_turns > 0
        words = [w for w in WORD.findall(text.lower()) if w not in STOP]
        self.words_total += len(words)
        if len(self.words) < MAX_WORDS:
            self.words.update(zlib.crc32(w.encode()) for w in words)
        if len(self.skeletons) < MAX_SKELETONS:
            self.skeletons.add(skeleton(text))
        for name, target in (("user_agent", self.agents), ("org", self.orgs), ("payment_id", self.payments)):
            if record.get(name):
                target.add(str(record[name]))
        prefix = ip_prefix(record.get("ip"))
        if prefix:
            self.prefixes.add(prefix)

    def merge(self, other: AccountStats) -> None:
        """Pool another account's traffic into this one (a linked campaign is judged as one)."""
        self.n += other.n
        self.first_ts, self.last_ts = min(self.first_ts, other.first_ts), max(self.last_ts, other.last_ts)
        for name in ("cot", "logprobs", "multi_sample", "max_tokens_sum", "conversational", "words_total"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.gap_n:  # Chan's parallel update of the gap mean and variance
            total = self.gap_n + other.gap_n
            delta = other.gap_mean - self.gap_mean
            self.gap_m2 += other.gap_m2 + delta * delta * self.gap_n * other.gap_n / total
            self.gap_mean += delta * other.gap_n / total
            self.gap_n = total
        self.days |= other.days
        for hour, count in other.hours.items():
            self.hours[hour] = self.hours.get(hour, 0) + count
        for name in ("words", "skeletons", "prefixes", "agents", "orgs", "payments"):
            getattr(self, name).update(getattr(other, name))

    def features(self, members: int = 1) -> dict[str, float]:
        """The scored numbers; ``members`` > 1 for pooled groups (volume is then per member)."""
        n = max(self.n, 1)
        gap_sd = math.sqrt(self.gap_m2 / (self.gap_n - 1)) if self.gap_n > 1 else math.nan
        cv = gap_sd / self.gap_mean if self.gap_n > 1 and self.gap_mean > 0 else math.nan
        return {
            "cot_share": self.cot / n,
            "logprob_share": self.logprobs / n,
            "multi_sample_share": self.multi_sample / n,
            "answer_budget": math.log1p(self.max_tokens_sum / n),
            "single_shot_share": 1 - self.conversational / n,
            "template_reuse": 1 - len(self.skeletons) / n,
            "breadth": len(self.words) / math.sqrt(self.words_total + 1),
            "regularity": 0.0 if math.isnan(cv) else 1 / (1 + cv),
            "volume": math.log1p(self.n / members / max(len(self.days), 1)),
        }
