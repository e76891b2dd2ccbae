"""Arabic named-entity recognition bundled with marsad (a CRF + BiLSTM ensemble)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marsad.ner.model import Tagger

__all__ = ["load_tagger"]


@cache
def load_tagger() -> Tagger:
    """The shipped tagger, loaded on first use and shared for the life of the process."""
    from marsad.ner.model import Tagger

    return Tagger()
