"""GPT-2's byte <-> printable-character table: the alphabet of byte-level BPE vocabularies.

Serving needs it to turn token pieces into bytes; training needs it to map token strings back to ids.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """Each byte's printable stand-in character, as byte-level BPE vocabularies spell them."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


@lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    """The inverse table: stand-in character -> byte."""
    return {c: b for b, c in bytes_to_unicode().items()}
