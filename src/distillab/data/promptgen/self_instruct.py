"""Self-instruct (Wang et al., 2023, "Self-Instruct: Aligning Language Models with Self-Generated
Instructions"): show the teacher a few seed instructions and ask it for a new one.

Request `i` shows `examples` seeds drawn (without replacement, in drawn order) by a random generator
seeded with the method and `examples` only, so the same seed file always gives the same requests and a
larger `count` only adds requests at the end: a rerun asks for nothing it has. Draws that repeat an
earlier request's are drawn again, so no two requests are the same.
"""

from __future__ import annotations

import math
import random
import re

from distillab.data.promptgen.rows import prompt_text, user_prompt
from distillab.data.prompts import PromptRow
from distillab.errors import ConfigError

INSTRUCTION = (
    "Here are {k} example requests that users gave an AI assistant:\n\n{examples}\n\n"
    "Write one new request of the same kind, on a different topic. Reply with the request only."
)
_LEAD = re.compile(
    r"^\s*(?:\d+\s*[.):]|[-*\u2022]|(?:new\s+)?(?:request|task|instruction)\s*\d*\s*:)\s*", re.IGNORECASE
)
_QUOTES = "\"'\u201c\u201d"


def seed_texts(seeds: list[PromptRow]) -> list[str]:
    return [" ".join(prompt_text(row.input).split()) for row in seeds]


def seed_ids(seeds: list[PromptRow]) -> list[str]:
    """A seed's id, or its file and line when it has none."""
    return [row.id or row.where for row in seeds]


def requests(seeds: list[PromptRow], count: int, examples: int) -> list[tuple[PromptRow, list[str]]]:
    """`count` distinct requests, each with the ids of the seeds it shows."""
    texts, ids = seed_texts(seeds), seed_ids(seeds)
    if examples > len(seeds):
        raise ConfigError(f"--examples {examples} is more than the {len(seeds)} seed prompts")
    distinct = math.perm(len(seeds), examples)
    if count > distinct // 2:
        raise ConfigError(
            f"{len(seeds)} seed prompts make {distinct} distinct requests of --examples {examples}; "
            f"--count {count} needs at least twice that many: give more seeds or more --examples"
        )
    rng = random.Random(f"self-instruct:{examples}")
    seen: set[tuple[int, ...]] = set()
    out: list[tuple[PromptRow, list[str]]] = []
    while len(out) < count:
        draw = tuple(rng.sample(range(len(seeds)), examples))
        if draw in seen:
            continue
        seen.add(draw)
        listed = "\n".join(f"{j}. {texts[s]}" for j, s in enumerate(draw, start=1))
        content = INSTRUCTION.format(k=examples, examples=listed)
        request_id = f"self-instruct-{len(out):06d}"
        out.append((PromptRow(user_prompt(content), request_id, request_id), [ids[s] for s in draw]))
    return out


def parse_instruction(completion: str) -> str:
    """The new request in a completion: its first paragraph, without a list marker or quotes."""
    text = completion.strip().split("\n\n", 1)[0].strip()
    text = _LEAD.sub("", text, count=1).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text
