"""Load time of a GGUF file read directly by transformers vs from distillab's cached conversion.

    python benchmarks/gguf_load.py --gguf SmolLM2-135M-Instruct.Q4_1.gguf [--repeats 3]

`distillab.models.load_model` converts a GGUF file once (transformers dequantizes it through `gguf_file=`)
into a Hugging Face directory under $DISTILLAB_CACHE/gguf/ and reads that afterwards. This measures, in one
run on one machine: the direct GGUF load (what every load would cost without the cache), the one-time
conversion, and the load from the converted directory. Writes benchmarks/results/gguf_load.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.models.load import convert_gguf, load_model


def _best(repeats: int, load) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        load()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gguf_load.json")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    def direct() -> None:
        AutoTokenizer.from_pretrained(args.gguf.parent, gguf_file=args.gguf.name)
        AutoModelForCausalLM.from_pretrained(args.gguf.parent, gguf_file=args.gguf.name, dtype=torch.float32)

    root = Path(tempfile.mkdtemp(prefix="gguf-bench-"))
    try:
        start = time.perf_counter()
        converted = convert_gguf(args.gguf, root=root)
        conversion = time.perf_counter() - start
        result = {
            "gguf": str(args.gguf),
            "gguf_mb": round(args.gguf.stat().st_size / 2**20, 1),
            "converted_mb": round(sum(p.stat().st_size for p in converted.iterdir()) / 2**20, 1),
            "direct_gguf_load_s": round(_best(args.repeats, direct), 2),
            "one_time_conversion_s": round(conversion, 2),
            "cached_load_s": round(_best(args.repeats, lambda: load_model(converted, device="cpu")), 2),
            "repeats": args.repeats,
            "torch_threads": torch.get_num_threads(),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["speedup"] = round(result["direct_gguf_load_s"] / result["cached_load_s"], 1)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
