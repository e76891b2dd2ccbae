"""Which tagger a run uses (`Settings.ner_backend`, `ner_neural`), loaded once per process."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Protocol

from marsad.heap import keep_for_life, reuse_freed_memory
from marsad.ner.rules import RuleTagger

BACKENDS = ("crf", "rules", "camel-bert")


class Tagger(Protocol):
    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]: ...


def tag_docs(tagger: Tagger, docs: Sequence[Sequence[Sequence[str]]]) -> list[list[list[str]]]:
    """Labels of several documents (each a list of sentences): in one pass where the tagger
    batches documents (the bundled `marsad.ner.model.Tagger.tag_docs`), else a `tag` call each."""
    batched = getattr(tagger, "tag_docs", None)
    if batched is not None:
        out: list[list[list[str]]] = batched(docs)
        return out
    return [tagger.tag(doc) for doc in docs]


@cache
def load_default_tagger(neural: bool = True) -> Tagger:
    """The bundled statistical model if installed, else the rule tagger; once per process.

    `neural=False` keeps the CRF alone. With the network, torch gets one thread: marsad
    scales by processes (one per core), and more threads per process only contend.
    """
    try:
        from marsad.ner import load_tagger

        tagger = load_tagger(None if neural else False)
    except (ImportError, FileNotFoundError) as exc:
        logging.getLogger(__name__).warning("NER model unavailable (%s); using rule tagger", exc)
        return RuleTagger()
    if getattr(tagger, "neural", None) is not None:
        import torch

        torch.set_num_threads(1)
    keep_for_life()
    reuse_freed_memory()
    return tagger


def tagger_for(backend: str, neural: bool = True) -> Tagger:
    """The tagger `Settings.ner_backend` (and `ner_neural`) name; each loaded once per process."""
    if backend == "crf":
        return load_default_tagger(neural)
    if backend == "rules":
        return RuleTagger()
    if backend == "camel-bert":
        from marsad.ner.camel_bert import load_camel_tagger

        return load_camel_tagger()
    raise ValueError(f"ner_backend must be one of {BACKENDS}, got {backend!r}")
