"""Prometheus metrics of the gateway, in a registry of its own (several apps in one process, as in the
tests, do not collide): requests by endpoint, status and decision; latency; tokens; rejections."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("distillab_requests", "Requests answered.", ["endpoint", "status", "decision"],
                                registry=self.registry)
        self.latency = Histogram("distillab_request_latency_seconds", "Time to the end of the response.",
                                 ["endpoint"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.tokens = Counter("distillab_tokens", "Tokens served.", ["kind"], registry=self.registry)
        self.rejections = Counter("distillab_rejections", "Requests refused.", ["reason"], registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
