"""The gateway's database: accounts and keys, account states and detector decisions, the request log.

SQLite for one machine, PostgreSQL for several gateway replicas (SQLAlchemy). The gateway writes it;
`distillab detect`, `distillab logs export` and the proofs read it. Below the gateway and the detector, so
both can use it without importing each other back.
"""
