"""`distillab simulate`: honest and distillation-campaign traffic as a request log, with labels apart."""

from __future__ import annotations

from distillab.cli.from_config import from_config
from distillab.detect.simulate.config import SimulateConfig

HELP = """Simulate API traffic: honest users and distillation campaigns, as request-log records.

Honest personas: chat users (multi-turn), coding help, document Q&A, bursty power users, support apps,
teams running public benchmarks and data-labelling companies (both systematic and high-volume: hard
negatives). Campaigns: heavy, many-accounts, low-and-slow, templated, paraphrase, chain-of-thought,
logprob-harvest, shared-proxy. Writes OUT (.jsonl or .parquet, the gateway's log format) and a labels
file (account -> benign or a campaign id, and its persona or strategy), never labels in the log.
The same options give byte-identical files.

Examples:

\b
  distillab simulate --out runs/traffic.jsonl
  distillab simulate --out runs/traffic.parquet --accounts 2000 --days 14 --attacker-share 0.02 --seed 7
  distillab simulate --out runs/hard.jsonl --campaigns low-and-slow,shared-proxy,paraphrase \\
      --labels runs/hard-labels.csv

Against a running gateway (one key per simulated account through its admin API):

\b
  DISTILLAB_ADMIN_TOKEN=secret distillab serve --upstream http://127.0.0.1:8001/v1 --db gw.db --port 8000
  DISTILLAB_ADMIN_TOKEN=secret distillab simulate --gateway http://127.0.0.1:8000 --max-requests 5000 \\
      --labels runs/gw-labels.jsonl
  distillab logs export --db gw.db --out runs/gw-log.parquet

See docs/simulate.md.
"""


@from_config(SimulateConfig)
def simulate(config: SimulateConfig) -> None:
    if config.gateway is not None:
        from distillab.detect.simulate.live import drive  # keeps `distillab --help` fast

        sent = drive(config)
        codes = ", ".join(f"{code}: {count}" for code, count in sent.statuses.items())
        print(
            f"sent {sent.sent} requests from {sent.accounts} accounts to {config.gateway} "
            f"in {sent.seconds:.1f}s ({codes})"
        )
        print(f"labels: {sent.labels}")
        return
    from distillab.detect.simulate.run import simulate as run_simulation

    result = run_simulation(config)
    print(
        f"{result.records} requests from {result.accounts} accounts "
        f"({result.campaign_accounts} in campaigns, "
        f"{100 * result.attacker_share:.1f}% of requests) in {result.seconds:.1f}s"
    )
    print(f"log: {result.out}")
    print(f"labels: {result.labels}")
