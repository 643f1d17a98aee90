"""`distillab detect-follow`: the live detector as a service of its own, over every replica's requests."""

from __future__ import annotations

from distillab.cli.from_config import from_config
from distillab.cli.serve import DETECT_FLAGS
from distillab.detect.live_config import FollowConfig

HELP = """Run one live detector over the request log that gateway replicas share, and act on what it finds.

Tails the store's request log (PostgreSQL, or SQLite on one machine) by id, folds every replica's
requests into per-account state, scores all accounts and linked groups every --detect-every seconds
(the code `distillab serve --detect-reference` and `distillab detect` run) and raises flagged accounts
to --detect-action in the store, which every replica applies within seconds. Its position and folded
state are saved together in the store every --checkpoint-every seconds and when it stops (SIGTERM,
Ctrl-C): after a restart, kill -9 included, it goes on where that checkpoint left off, counting each
request once. Run the replicas without --detect-reference; run one follower per --name.

Examples:

\b
  distillab detect-follow --db postgresql://gw@db-host/gateway --detect-reference honest.parquet \\
      --detect-action degrade
  distillab detect-follow --db gateway.db --indicators partner.indicators.json \\
      --indicator-key-file sharing.key --detect-action block

See docs/detect.md.
"""


@from_config(FollowConfig, required=("db",), flags=DETECT_FLAGS)
def detect_follow(config: FollowConfig) -> None:
    import logging
    import signal
    import threading

    from distillab.detect.follow import Follower

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    follower = Follower.open(config)
    try:
        print(
            f"detector follower {config.name!r} on {follower.store.url}: {follower.detector.describe()}",
            flush=True,
        )
        if not follower.acquire(stop):
            return
        print(follower.start(), flush=True)
        follower.run(stop)
        print(
            f"stopped at request-log id {follower.cursor.position}: {follower.folded:,} records folded, "
            f"{follower.rounds} scoring rounds; checkpoint saved",
            flush=True,
        )
    finally:
        follower.close()
