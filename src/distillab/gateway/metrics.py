"""Prometheus metrics of the gateway, in a registry of its own (several apps in one process, as in the
tests, do not collide): requests by endpoint, status and decision; latency; tokens; rejections; the shared
limits' failures; and the live detector's flags, scoring time, backlog and start-up replay."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "distillab_requests",
            "Requests answered.",
            ["endpoint", "status", "decision"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "distillab_request_latency_seconds",
            "Time to the end of the response.",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.tokens = Counter("distillab_tokens", "Tokens served.", ["kind"], registry=self.registry)
        self.rejections = Counter(
            "distillab_rejections", "Requests refused.", ["reason"], registry=self.registry
        )
        self.limits_fallback = Counter(
            "distillab_limits_fallback",
            "Requests whose rate limits were decided without Redis (unreachable), by --limits-on-failure.",
            ["mode"],
            registry=self.registry,
        )
        self.limits_down = Gauge(
            "distillab_limits_redis_down",
            "1 while the Redis of the shared rate limits cannot be reached, else 0.",
            registry=self.registry,
        )
        self.detector_flags = Counter(
            "distillab_detector_flags",
            "Accounts the live detector put in a state.",
            ["state", "by"],
            registry=self.registry,
        )
        self.detector_seconds = Gauge(
            "distillab_detector_scoring_seconds",
            "Duration of the live detector's last scoring of all accounts and linked groups.",
            registry=self.registry,
        )
        self.detector_rounds = Counter(
            "distillab_detector_rounds",
            "Scoring rounds the live detector finished (each scores every request folded before it).",
            registry=self.registry,
        )
        self.detector_backlog = Gauge(
            "distillab_detector_backlog",
            "Logged requests waiting to be folded into the live detector's per-account state.",
            registry=self.registry,
        )
        self.detector_dropped = Counter(
            "distillab_detector_dropped",
            "Requests the live detector skipped because its backlog was full.",
            registry=self.registry,
        )
        self.detector_replayed = Gauge(
            "distillab_detector_replayed_requests",
            "Logged requests the live detector folded in from the store at start (set when the replay ends).",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
