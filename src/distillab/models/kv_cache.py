"""Joining and trimming Hugging Face key/value caches, for sequences that join and leave a running batch.

Layout (transformers' `DynamicCache`): one `DynamicLayer` per model layer, each holding `keys` and
`values` as [B, H, L, D] tensors, next to the batch's attention mask [B, L] (1 for a real token). Every row
is left-padded: zeros, then its real tokens up to the newest column. Positions are passed explicitly (from
the mask), so a column of padding, zeros in the mask, changes nothing a row computes; that is what lets two
batches of different lengths be joined by left-padding the shorter one, and columns that are padding in
every row be cut away.

Only full-attention layers that grow by concatenation can be joined like this; a sliding-window or
linear-attention layer keeps state that is not one column per token (`joinable` says which caches qualify).
transformers offers `batch_select_indices` and `crop` (cuts the newest columns) but nothing that
concatenates caches or cuts the oldest columns, so those two are here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer


def joinable(cache: Cache) -> bool:
    """True when every layer is a plain, filled `DynamicLayer`, so `join` and `trim_padding` apply."""
    return isinstance(cache, DynamicCache) and all(
        type(layer) is DynamicLayer and layer.is_initialized for layer in cache.layers
    )


def join(first: Cache, first_mask: torch.Tensor, second: Cache, second_mask: torch.Tensor) -> torch.Tensor:
    """Append `second`'s rows to `first` (in place), left-padding whichever is shorter; return the mask.

    Masks are [B1, L1] and [B2, L2]; the result is [B1 + B2, max(L1, L2)], and every layer of `first`
    then holds [B1 + B2, H, max(L1, L2), D] keys and values. Both caches must be `joinable`.
    """
    width = max(first_mask.shape[1], second_mask.shape[1])
    mask = torch.cat([_pad_columns(first_mask, width, 1), _pad_columns(second_mask, width, 1)])
    # Everything is built before `first` changes, so a failure (out of memory) leaves it as it was.
    joined = [
        (
            torch.cat([_pad_columns(keys, width, -2), _pad_columns(their_keys, width, -2)]),
            torch.cat([_pad_columns(values, width, -2), _pad_columns(their_values, width, -2)]),
        )
        for (_, keys, values), (_, their_keys, their_values) in zip(
            _filled(first), _filled(second), strict=True
        )
    ]
    for (layer, _, _), (keys, values) in zip(_filled(first), joined, strict=True):
        layer.keys, layer.values = keys, values
    return mask


def trim_padding(cache: Cache, mask: torch.Tensor) -> torch.Tensor:
    """Cut the leading columns that are padding in every row (from the mask and every layer).

    Returns the trimmed mask [B, L']. Rows are left-padded, so the padding common to all rows is a prefix.
    """
    first = int(mask.any(dim=0).int().argmax())  # the first live column (0 if none is: nothing to cut)
    if first == 0:
        return mask
    for layer, keys, values in _filled(cache):
        layer.keys, layer.values = keys[:, :, first:], values[:, :, first:]
    return mask[:, first:]


def _filled(cache: Cache) -> list[tuple[DynamicLayer, torch.Tensor, torch.Tensor]]:
    """Each layer of a `joinable` cache with its keys and values [B, H, L, D]."""
    filled = []
    for layer in cache.layers:
        assert isinstance(layer, DynamicLayer) and layer.keys is not None and layer.values is not None
        filled.append((layer, layer.keys, layer.values))
    return filled


def _pad_columns(tensor: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    """Left-pad `tensor` with zeros along `dim` to `width`."""
    missing = width - tensor.shape[dim]
    if missing == 0:
        return tensor
    # F.pad lists (left, right) pairs from the last dimension backwards.
    pad = [0, 0] * (tensor.dim() - 1 - (dim % tensor.dim())) + [missing, 0]
    return F.pad(tensor, pad)
