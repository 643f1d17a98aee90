"""The `distillab serve` gateway: API keys per account, a durable request log, rate limits and policies.

`Store` (accounts, keys, policy states, request log; SQLite or PostgreSQL) and `export_logs` are the
pieces the `distillab keys` and `distillab logs` commands use; the FastAPI app is in `gateway.app`.
"""

from distillab.db.keys import Account, KeyInfo
from distillab.db.store import Store
from distillab.gateway.export import export_logs

__all__ = ["Account", "KeyInfo", "Store", "export_logs"]
