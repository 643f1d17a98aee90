"""`distillab serve`: serve a local Hugging Face causal LM over the OpenAI API (chat + completions)."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from distillab.serving.settings import ServeSettings, help_for

HELP = """Serve a Hugging Face causal LM over the OpenAI API, with token log-probabilities.

Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health.
Concurrent requests are batched together (up to --max-batch sequences).

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
"""


def serve(
    model: Path = typer.Option(..., "--model", help=help_for("model")),
    host: str = typer.Option("127.0.0.1", "--host", help=help_for("host")),
    port: int = typer.Option(8000, "--port", help=help_for("port")),
    model_name: str | None = typer.Option(None, "--model-name", help=help_for("model_name")),
    max_batch: int = typer.Option(16, "--max-batch", help=help_for("max_batch")),
    batch_window_ms: float = typer.Option(5.0, "--batch-window-ms", help=help_for("batch_window_ms")),
    device: str = typer.Option("auto", "--device", help=help_for("device")),
    dtype: str = typer.Option("auto", "--dtype", help=help_for("dtype")),
) -> None:
    """Load the model, then run uvicorn until interrupted (Ctrl-C finishes in-flight requests first)."""
    import uvicorn

    # torch and transformers come with the app; imported here so `distillab --help` stays fast.
    from distillab.serving.app import create_app

    settings = ServeSettings(model=model, host=host, port=port, model_name=model_name, max_batch=max_batch,
                             batch_window_ms=batch_window_ms, device=device, dtype=dtype)
    app = create_app(settings)
    _server_class()(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                                     timeout_graceful_shutdown=30), settings.served_name).run()


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
