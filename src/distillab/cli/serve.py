"""`distillab serve`: serve a local Hugging Face causal LM over the OpenAI API (chat + completions)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from distillab.cli.from_config import from_config
from distillab.detect.live_config import LiveDetectConfig
from distillab.errors import ConfigError
from distillab.fields import default_of, help_of
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.keys import KEY_ENV
from distillab.serving.settings import ServeSettings, help_for

if TYPE_CHECKING:
    from fastapi import FastAPI

HELP = """Serve a Hugging Face causal LM over the OpenAI API, with token log-probabilities; with --db,
as a gateway with API keys per account, a durable request log, rate limits and policies.

Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health.
Concurrent requests are batched continuously: they join the running batch between decoding steps
(up to --max-batch sequences).

Examples:

\b
  distillab serve --model runs/teacher --port 8000 --model-name teacher

\b
  curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "teacher", "messages": [{"role": "user", "content": "2 + 3 = ?"}],
         "max_tokens": 32, "logprobs": true, "top_logprobs": 5}'

\b
  python -c 'from openai import OpenAI
  client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
  reply = client.chat.completions.create(model="teacher", messages=[{"role": "user", "content": "hi"}])
  print(reply.choices[0].message.content)'

As a gateway (keys, request log, limits; admin API when DISTILLAB_ADMIN_TOKEN is set):

\b
  distillab keys create --db gateway.db --account acme --org acme-inc     # prints the key once
  distillab serve --model runs/teacher --db gateway.db --rpm 60 --tpm 40000
  distillab serve --upstream http://10.0.0.5:8000/v1 --db postgresql://gw@db/gateway --port 8080 \\
    --rpm 60 --redis redis://10.0.0.7:6379/0 --replicas 3          # one of 3 replicas, limits shared
  distillab logs export --db gateway.db --out requests.parquet

\b
  curl -X PUT http://127.0.0.1:8000/admin/accounts/acme/state \\
    -H "Authorization: Bearer $DISTILLAB_ADMIN_TOKEN" -H 'Content-Type: application/json' \\
    -d '{"state": "degrade", "reason": "campaign c-17"}'

With the live detector (scored against honest reference traffic) and another provider's indicators:

\b
  distillab serve --upstream http://10.0.0.5:8000/v1 --db gateway.db --detect-reference honest.parquet \\
    --detect-action degrade --indicators partner.indicators.json --indicator-key-file sharing.key

With a watermark (every sampled token; see docs/prove.md), one key for all, or one per account:

\b
  openssl rand -hex 32 > watermark.key
  distillab serve --model runs/teacher --watermark-key-file watermark.key --watermark-delta 2
  distillab serve --model runs/teacher --db gateway.db --watermark-key-file watermark.key \\
    --watermark-per-account

See docs/serve.md, docs/gateway.md, docs/detect.md and docs/prove.md.
"""


DETECT_FLAGS = {
    name: "--detect-" + name.replace("_", "-")
    for name in ("reference", "action", "every", "target_fpr", "fdr", "embedder", "replay_hours")
}
"""The live detector's options that are not already named for it (--indicators ... are)."""

MODEL_HELP = help_for("model")
WATERMARK_KEY_FILE_HELP = help_for("watermark_key_file")


def _wm_help(name: str) -> str:
    return f"{help_of(WatermarkConfig, name)} [default: {default_of(WatermarkConfig, name)}]"


@from_config(LiveDetectConfig, flags=DETECT_FLAGS)
def serve(
    model: Path | None = typer.Option(None, "--model", help=MODEL_HELP),
    upstream: str | None = typer.Option(
        None,
        "--upstream",
        help="Proxy this OpenAI-compatible base URL (http://host:port/v1) instead of serving a local model.",
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="DISTILLAB_DB",
        help="Gateway store: a SQLite file or "
        "postgresql://... URL. Turns on API keys, the request log and policies.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help=help_for("host")),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        envvar="FORWARDED_ALLOW_IPS",
        help="Proxies (comma-separated addresses or networks, e.g. 10.0.0.0/8) trusted to give the client's "
        "address in X-Forwarded-For: the gateway logs it and the detector's network features read it. "
        "Name your load balancers exactly; '*' would let any client claim any address, '' trusts none. "
        "[default: 127.0.0.1,::1]",
    ),
    port: int = typer.Option(8000, "--port", help=help_for("port")),
    model_name: str | None = typer.Option(None, "--model-name", help=help_for("model_name")),
    max_batch: int = typer.Option(16, "--max-batch", help=help_for("max_batch")),
    batch_window_ms: float = typer.Option(5.0, "--batch-window-ms", help=help_for("batch_window_ms")),
    device: str = typer.Option("auto", "--device", help=help_for("device")),
    dtype: str = typer.Option("auto", "--dtype", help=help_for("dtype")),
    rpm: float | None = typer.Option(None, "--rpm", help="Gateway: requests per minute per account."),
    tpm: float | None = typer.Option(
        None,
        "--tpm",
        help="Gateway: tokens per minute per account (prompt + max_tokens x n, counted at admission).",
    ),
    throttle_factor: float = typer.Option(
        0.1, "--throttle-factor", help="Gateway: share of the limits a throttled account keeps."
    ),
    redis: str | None = typer.Option(
        None,
        "--redis",
        envvar="DISTILLAB_REDIS",
        help="Gateway: Redis URL (redis://host:6379/0) holding the rate limits, so that replicas sharing "
        "it enforce them together; without it each process keeps its own.",
    ),
    limits_on_failure: str = typer.Option(
        "open",
        "--limits-on-failure",
        help="Gateway with --redis, while Redis cannot be reached: open (each replica applies 1/--replicas "
        "of the limits itself) or closed (429).",
    ),
    replicas: int = typer.Option(
        1,
        "--replicas",
        help="Gateway with --redis: replicas sharing the limits (see --limits-on-failure).",
    ),
    degrade_max_tokens: int = typer.Option(
        64,
        "--degrade-max-tokens",
        help="Gateway: longest answer a degraded account gets (it also loses logprobs and n > 1).",
    ),
    upstream_key_env: str = typer.Option(
        "UPSTREAM_API_KEY",
        "--upstream-key-env",
        help="Environment variable with the upstream's API key (never stored).",
    ),
    admin_token_env: str = typer.Option(
        "DISTILLAB_ADMIN_TOKEN",
        "--admin-token-env",
        help="Environment variable with the admin API token (unset: admin API off).",
    ),
    log_fsync: bool = typer.Option(
        True,
        "--log-fsync/--no-log-fsync",
        help="Gateway: a request's log record "
        "is on disk (fsync) before its answer ends. --no-log-fsync: it survives the "
        "gateway crashing, but the last records may be lost on power loss or an OS "
        "crash; saves one disk flush per batch of records.",
    ),
    watermark_key_file: Path | None = typer.Option(
        None, "--watermark-key-file", help=WATERMARK_KEY_FILE_HELP
    ),
    watermark_scheme: str | None = typer.Option(None, "--watermark-scheme", help=_wm_help("scheme")),
    watermark_context: int | None = typer.Option(None, "--watermark-context", help=_wm_help("context")),
    watermark_gamma: float | None = typer.Option(None, "--watermark-gamma", help=_wm_help("gamma")),
    watermark_delta: float | None = typer.Option(None, "--watermark-delta", help=_wm_help("delta")),
    watermark_per_account: bool = typer.Option(
        False, "--watermark-per-account", help=help_for("watermark_per_account")
    ),
    *,
    detect: LiveDetectConfig,
) -> None:
    """Load the model (or point at the upstream), then run uvicorn until interrupted (Ctrl-C drains
    in-flight requests first)."""
    import os

    import uvicorn

    _check_proxies(forwarded_allow_ips)
    if (model is None) == (upstream is None):
        raise ConfigError("give exactly one of --model (serve a local model) or --upstream (proxy a server)")
    if upstream is not None and db is None:
        raise ConfigError(
            "--upstream runs the gateway, which needs --db (a SQLite file or postgresql:// URL)"
        )
    flags = {
        "scheme": watermark_scheme,
        "context": watermark_context,
        "gamma": watermark_gamma,
        "delta": watermark_delta,
    }
    watermark = _watermark(
        watermark_key_file,
        {k: v for k, v in flags.items() if v is not None},
        watermark_per_account,
        upstream=upstream is not None,
        gateway=db is not None,
    )
    if redis is not None and db is None:
        raise ConfigError("--redis holds the gateway's rate limits, which needs --db")
    if detect.enabled and db is None:
        raise ConfigError(
            "--detect-reference and --indicators need the gateway (--db): only it knows the accounts"
        )
    model_app: FastAPI | None = None  # the local model's app, where there is one
    if db is None:
        # A plain model server: no keys, no log. torch comes with the app, so import it only now.
        from distillab.serving.app import create_app

        assert model is not None  # without --db there is no --upstream (checked above)
        settings = ServeSettings(
            model=model,
            host=host,
            port=port,
            model_name=model_name,
            max_batch=max_batch,
            batch_window_ms=batch_window_ms,
            device=device,
            dtype=dtype,
            watermark=watermark,
            watermark_key_file=watermark_key_file,
            watermark_per_account=watermark_per_account,
        )
        app = model_app = create_app(settings)
        name = settings.served_name
    else:
        from distillab.db.store import Store
        from distillab.gateway.app import create_gateway
        from distillab.gateway.policy import Limits

        limits = Limits(
            rpm=rpm,
            tpm=tpm,
            throttle_factor=throttle_factor,
            degrade_max_tokens=degrade_max_tokens,
            redis=redis,
            on_failure=limits_on_failure,
            replicas=replicas,
        )
        backend: str | FastAPI
        if model is not None:
            from distillab.serving.app import create_app

            settings = ServeSettings(
                model=model,
                model_name=model_name,
                max_batch=max_batch,
                batch_window_ms=batch_window_ms,
                device=device,
                dtype=dtype,
                watermark=watermark,
                watermark_key_file=watermark_key_file,
                watermark_per_account=watermark_per_account,
            )
            model_app = create_app(settings)
            backend, name = model_app, settings.served_name
        else:
            assert upstream is not None
            backend, name = upstream.rstrip("/"), upstream
        detector = None
        if detect.enabled:
            from distillab.gateway.detector import LiveDetector

            detector = LiveDetector.load(detect)
            print(f"live detector: {detector.describe()}", flush=True)
        app = create_gateway(
            Store(db, fsync=log_fsync),
            backend,
            limits=limits,
            upstream_key=os.environ.get(upstream_key_env),
            admin_token=os.environ.get(admin_token_env),
            detector=detector,
        )
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    if watermark is not None and model_app is not None:
        print(model_app.state.serving.watermarker.describe(), flush=True)
    # The gateway writes its own JSON line per request; uvicorn's access log would repeat it.
    _server_class()(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="info",
            access_log=db is None,
            timeout_graceful_shutdown=30,
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
        ),
        name,
    ).run()


def _check_proxies(proxies: str | None) -> None:
    """Every --forwarded-allow-ips entry an address, a network or '*' (uvicorn would take a typo as a
    name no connection ever has, and trust no proxy, silently)."""
    import ipaddress

    bad = []
    for entry in (proxies or "").split(","):
        entry = entry.strip()
        if entry and entry != "*":
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                bad.append(entry)
    if bad:
        raise ConfigError(f"--forwarded-allow-ips: not an IP address or network: {', '.join(bad)}")


def _watermark(
    key_file: Path | None, flags: dict[str, Any], per_account: bool, *, upstream: bool, gateway: bool
) -> WatermarkConfig | None:
    """The watermark settings, or None: on when a key file is given or $DISTILLAB_WATERMARK_KEY is set."""
    import os

    wanted = key_file is not None or bool(os.environ.get(KEY_ENV, "").strip())
    if upstream and (wanted or flags or per_account):
        source = (
            "--watermark-key-file" if key_file is not None else f"${KEY_ENV}" if wanted else "--watermark-*"
        )
        raise ConfigError(
            f"{source}: an --upstream server samples the tokens itself, so distillab cannot "
            "watermark them; serve the model here with --model to watermark its answers"
        )
    if not wanted:
        if flags or per_account:
            raise ConfigError("--watermark-* flags need a key: --watermark-key-file FILE or $" + KEY_ENV)
        return None
    if per_account and not gateway:
        raise ConfigError(
            "--watermark-per-account needs the gateway (--db): only the gateway knows which account is asking"
        )
    return WatermarkConfig(**flags)


def _server_class() -> type:
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        """uvicorn's server, printing the base URL once it listens (the real port, when --port 0)."""

        def __init__(self, config: uvicorn.Config, model_name: str):
            super().__init__(config)
            self.model_name = model_name

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                host, port = self.config.host, self.config.port
                for server in self.servers:
                    for sock in server.sockets or ():
                        port = sock.getsockname()[1]
                host = f"[{host}]" if ":" in host else host
                print(f"serving {self.model_name} at http://{host}:{port}/v1", flush=True)

    return AnnouncingServer
