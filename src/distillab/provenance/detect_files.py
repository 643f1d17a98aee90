"""`distillab watermark detect` as a function: read files, tokenize, test one or several keys, write JSON."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from distillab.errors import ConfigError, DataError
from distillab.models.load import load_tokenizer
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.detect import detect
from distillab.provenance.evidence import TestResult
from distillab.provenance.keys import derive, load_key
from distillab.provenance.stats import holm
from distillab.provenance.texts import read_texts
from distillab.provenance.watermark import Watermark


def detect_files(
    files: Sequence[Path],
    tokenizer_dir: Path,
    config: WatermarkConfig,
    *,
    key_file: Path | None = None,
    accounts: Sequence[str] = (),
    out: Path | None = None,
) -> list[TestResult]:
    """One pooled test per key (the default key, or each account's) over every text in `files`."""
    master = load_key(key_file)
    if master is None:
        raise ConfigError("a watermark key is needed: --key-file FILE or $DISTILLAB_WATERMARK_KEY")
    texts = [text for file in files for text in read_texts(file)]
    if not texts:
        raise DataError(f"no texts in {', '.join(map(str, files))}")
    tokenizer = load_tokenizer(tokenizer_dir)
    sequences = [list(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    marks = (
        [Watermark(config, derive(master, a), account=a) for a in accounts]
        if accounts
        else [Watermark(config, derive(master))]
    )
    results = [detect(sequences, mark) for mark in marks]
    for result in results:
        result.details["files"] = [str(f) for f in files]
    if len(results) > 1:
        for result, p in zip(results, holm([r.p_value for r in results])):
            result.details["p_holm"] = p
    if out is not None:
        import json

        from distillab.atomic import write_text
        from distillab.provenance.report import evidence_json

        out.parent.mkdir(parents=True, exist_ok=True)
        write_text(
            out,
            json.dumps(evidence_json(results, title="Watermark detection"), indent=2, allow_nan=False) + "\n",
        )
    return results
