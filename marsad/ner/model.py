"""The runtime tagger: a CRF over cached word-type features, loaded once per process."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pycrfsuite

from marsad.ner.features import Featurizer
from marsad.ner.resources import DATA_DIR, MODEL_FILE, load_resources


class Tagger:
    """BIO tagger over PERS, LOC, ORG and MISC for pre-tokenised Arabic sentences."""

    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        path = data_dir / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(f"no NER model at {path}: run `marsad ner train`")
        self._crf = pycrfsuite.Tagger()
        self._crf.open(str(path))
        self.featurizer = Featurizer(load_resources(data_dir))

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """One label list per sentence, aligned with its tokens."""
        crf = self._crf
        feats = self.featurizer.sentence
        return [crf.tag(feats(list(s))) if s else [] for s in sentences]
