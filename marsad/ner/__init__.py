"""Arabic named-entity recognition bundled with marsad (a CRF + BiLSTM ensemble)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marsad.ner.model import Tagger

__all__ = ["load_tagger"]


@cache
def load_tagger(neural: bool | None = None) -> Tagger:
    """The shipped tagger, loaded on first use and shared for the life of the process.

    `neural=False`: the CRF alone (about 4x faster, 1.2 F1 lower; torch is never imported).
    """
    from marsad.ner.model import Tagger

    return Tagger(neural=neural)
