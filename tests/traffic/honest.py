"""Honest personas, including the ones that look systematic: ordinary chat users, students, developers
testing an integration, benchmark runners (templated, one-token answers, log-probabilities), RAG
integrations (long contexts, one template), a translation app and labelling companies; and honest heavy
users whose requests look like a harvest's on their own: an assistant app relaying its users' questions
on any topic, a tutoring app whose system prompt asks for every step, and content writers drafting long
articles.

`PERSONAS` maps each persona to its share of the honest accounts and the function that writes one
account's week of requests."""

from __future__ import annotations

import random
from collections.abc import Callable

from .core import Account, Call, World
from .people import chat, content_writer, developer, student
from .services import assistant_app, benchmark, labelling, rag, translation, tutoring_app

Persona = Callable[[random.Random, World, Account], list[Call]]

PERSONAS: dict[str, tuple[float, Persona]] = {
    "chat": (0.42, chat),
    "student": (0.14, student),
    "developer": (0.16, developer),
    "benchmark": (0.05, benchmark),
    "rag": (0.08, rag),
    "translation": (0.05, translation),
    "labelling": (0.09, labelling),
    "assistant-app": (0.04, assistant_app),
    "tutoring-app": (0.02, tutoring_app),
    "content-writer": (0.04, content_writer),
}

# How personas pick up the new model: (chance they do at all, mean delay in days).
ADOPTION = {
    "chat": (0.35, 2.0),
    "student": (0.25, 2.0),
    "developer": (0.7, 0.8),
    "benchmark": (0.3, 1.0),
    "rag": (0.15, 3.0),
    "translation": (0.15, 3.0),
    "labelling": (0.1, 3.0),
    "assistant-app": (0.3, 1.5),
    "tutoring-app": (0.2, 3.0),
    "content-writer": (0.4, 1.5),
}
