"""Time-major packing of sentences of different lengths, as torch's packed sequences.

The tagger's sequence steps (the network's recurrence, the CRF's forward-backward, the
Viterbi) run over all sentences of a batch of articles at once. Padding them to the longest
would compute every short sentence as long as the longest one; packed, step t holds only the
sentences longer than t, longest first, so each step is a prefix of the previous one's rows
and no step computes a padded position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Packing:
    """Where each token of a batch of sentences sits in time-major packed order.

    `order`: sentence indices, longest first (stable); `lens`: their lengths in that order;
    `starts`: where each (sorted) sentence begins in the concatenation of the sorted
    sentences; `active[t]`: how many sentences are longer than t; `offs[t]`: where step t
    begins among the packed slots; `src[slot]`: the token at that slot, as an index into the
    sorted concatenation; `row[slot]`, `step[slot]`: its sentence (sorted) and position.
    """

    order: np.ndarray
    lens: np.ndarray
    starts: np.ndarray
    active: np.ndarray
    offs: np.ndarray
    src: np.ndarray
    row: np.ndarray
    step: np.ndarray

    def steps(self) -> list[tuple[int, int]]:
        """(first slot, number of sentences) of each step, as plain ints for Python loops."""
        return list(zip(self.offs[:-1].tolist(), self.active.tolist(), strict=True))

    def concat(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """The per-sentence arrays (original order) concatenated in sorted order."""
        return np.concatenate([arrays[i] for i in self.order])

    def split(self, flat: np.ndarray) -> list[np.ndarray]:
        """Per-sentence views (original order) of an array in sorted-concatenation order."""
        out: list[np.ndarray] = [flat[:0]] * len(self.order)
        for i, s, n in zip(
            self.order.tolist(), self.starts.tolist(), self.lens.tolist(), strict=True
        ):
            out[i] = flat[s : s + n]
        return out


def pack(lengths: Sequence[int]) -> Packing:
    """The packing of sentences of these lengths (every length > 0)."""
    sizes = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-sizes, kind="stable")
    lens = sizes[order]
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    width = int(lens[0]) if len(lens) else 0
    active = np.searchsorted(-lens, -np.arange(width), side="left")  # len > t
    offs = np.concatenate([[0], np.cumsum(active)]).astype(np.int64)
    row = np.arange(offs[-1]) - np.repeat(offs[:-1], active)
    step = np.repeat(np.arange(width), active)
    return Packing(order, lens, starts, active, offs, starts[row] + step, row, step)
