"""The runtime tagger: a CRF over cached word-type features, mixed with the neural tagger
when its file is shipped; loaded once per process."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pycrfsuite

from marsad.ner.conll import spans
from marsad.ner.decode import LABELS, settled_batch, viterbi_batch
from marsad.ner.fastcrf import CrfScorer
from marsad.ner.features import Featurizer
from marsad.ner.resources import DATA_DIR, MODEL_FILE, load_resources

if TYPE_CHECKING:
    from marsad.ner.neural import NeuralRunner

NEURAL_FILE = "ner-neural.pt"

# Types whose one-word names are also repeated. One-word ORG names (حماس، الناتو) recur in an
# article with little context; one-word PERS/LOC/MISC repeats cost more precision than they
# gain (dev split: ORG only 75.95 -> 76.30 F1; all types 75.24).
_SINGLE_REPEAT = frozenset({"ORG"})


def weighted_attributes(crf: pycrfsuite.Tagger) -> frozenset[str]:
    """Attributes with a non-zero weight for some label: the L1 prior zeroes about half."""
    return frozenset(attr for (attr, _label), w in crf.info().state_features.items() if w)


class Tagger:
    """BIO tagger over PERS, LOC, ORG and MISC for pre-tokenised Arabic sentences."""

    def __init__(
        self,
        data_dir: Path = DATA_DIR,
        repeat_pass: bool = True,
        neural: bool | None = None,
        fast: bool = True,
    ) -> None:
        """`neural`: mix in the neural tagger; None = when its file is in `data_dir`.

        `fast=False` is the reference path (pycrfsuite marginals, the network on every
        sentence), kept so the fast one (numpy marginals from cached per-type scores,
        `fastcrf.py`; the network only where the CRF leaves the labels open, with its input
        projection cached per type, `recurrence.py`) can be checked and timed against it in
        one process: both give the same labels.
        """
        path = data_dir / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(f"no NER model at {path}: run `marsad ner train`")
        self._crf = pycrfsuite.Tagger()
        self._crf.open(str(path))
        self.featurizer = Featurizer(load_resources(data_dir), keep=weighted_attributes(self._crf))
        self.repeat_pass = repeat_pass
        npath = data_dir / NEURAL_FILE
        if neural and not npath.exists():
            raise FileNotFoundError(f"no neural NER model at {npath}: run `marsad ner train`")
        self.neural: NeuralRunner | None = None
        if neural or (neural is None and npath.exists()):
            from marsad.ner.neural import NeuralRunner

            self.neural = NeuralRunner(npath, self.featurizer, fast=fast)
        self.fast = fast
        # the CRF alone decodes in pycrfsuite (its own Viterbi): no marginals needed
        use_scorer = fast and self.neural is not None
        self._scorer = CrfScorer(self._crf, self.featurizer) if use_scorer else None
        self._columns = [LABELS.index(lab) for lab in self._crf.labels()]
        # Pipelines tag batches on worker threads that share this (cached) tagger.
        self._lock = threading.Lock()

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """One label list per sentence, aligned with its tokens.

        Sentences passed together are treated as one document: a name tagged in one place is
        also tagged where the CRF missed a repeat of it (news repeats names, often with less
        context the second time).
        """
        return self.tag_docs([sentences])[0]

    def tag_docs(self, docs: Sequence[Sequence[Sequence[str]]]) -> list[list[list[str]]]:
        """`tag` of each document (its sentences), the models run once over the sentences of
        them all: a batch of articles shares one pass of the network's recurrence, one
        forward-backward and one Viterbi (one step per position of the longest sentence
        instead of per article). The repeat pass stays within each document."""
        with self._lock:  # pycrfsuite and the type caches are stateful: one call at a time
            labels = self._tag_sentences([s for doc in docs for s in doc])
            out: list[list[list[str]]] = []
            start = 0
            for doc in docs:
                mine, start = labels[start : start + len(doc)], start + len(doc)
                if self.repeat_pass and len(doc) > 1:
                    self._tag_repeats(doc, mine)
                out.append(mine)
            return out

    def _tag_sentences(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Labels of each sentence on its own, before the repeat pass."""
        if self.neural is None:
            crf, feats = self._crf, self.featurizer.sentence
            return [crf.tag(feats(s)) if s else [] for s in sentences]
        return self._tag_fast(sentences) if self._scorer is not None else self._tag_ref(sentences)

    def _tag_ref(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The ensemble as trained: pycrfsuite marginals, the network on every sentence; where
        the model's `settle` weight is not its mix, a sentence the CRF's margins settle at that
        weight keeps the CRF's labels (where they are equal, the mixture decodes to them)."""
        assert self.neural is not None
        a = self.neural.mix
        nn_probs = self.neural.probs(sentences)
        crf_probs = [self.crf_marginals(s) for s in sentences]
        mixed = viterbi_batch(
            [a * c + (1 - a) * p for c, p in zip(crf_probs, nn_probs, strict=True)]
        )
        if self.neural.settle == a:
            return mixed
        sure = self._settled(crf_probs)
        return [m if lab is None else lab for lab, m in zip(sure, mixed, strict=True)]

    def _settled(self, crf_probs: Sequence[np.ndarray]) -> list[list[str] | None]:
        """The CRF's labels of the sentences it decides alone, None where the network reads
        the sentence: the CRF's margins settle it at the model's `settle` weight and, where the
        model says so (`settle_o_only`), it holds no name (a name the CRF is sure of is still
        where a network mixed in at a lower weight most often disagrees)."""
        assert self.neural is not None
        labels = settled_batch(crf_probs, self.neural.settle)
        if not self.neural.settle_o_only:
            return labels
        return [lab if lab is None or lab.count("O") == len(lab) else None for lab in labels]

    def _tag_fast(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Same labels as `_tag_ref`: numpy CRF marginals, and the network only for sentences
        whose labels the CRF's margins do not settle alone at the `settle` weight (about half)."""
        assert self.neural is not None and self._scorer is not None
        a = self.neural.mix
        crf_probs = self._scorer.marginals(sentences)
        labels = self._settled(crf_probs)
        open_ = [i for i, lab in enumerate(labels) if lab is None]
        if open_:
            nn_probs = self.neural.probs([sentences[i] for i in open_])
            mixed = viterbi_batch(
                [a * crf_probs[i] + (1 - a) * p for i, p in zip(open_, nn_probs, strict=True)]
            )
            for i, lab in zip(open_, mixed, strict=True):
                labels[i] = lab
        return [lab if lab is not None else [] for lab in labels]

    def ensemble_probs(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per sentence, the mixture the Viterbi decodes (a·CRF marginals + (1 − a)·network),
        the network run on every sentence: what self-training reads its confidence from."""
        if self.neural is None:
            raise ValueError("the CRF alone has no mixture: load the ensemble")
        a = self.neural.mix
        with self._lock:
            crf = (
                self._scorer.marginals(sentences)
                if self._scorer is not None
                else [self.crf_marginals(s) for s in sentences]
            )
            nn = self.neural.probs(sentences)
        return [a * c + (1 - a) * p for c, p in zip(crf, nn, strict=True)]

    def crf_marginals(self, tokens: Sequence[str]) -> np.ndarray:
        """CRF marginal probability of each label (columns in `decode.LABELS` order) per token."""
        crf = self._crf
        crf.set(self.featurizer.sentence(tokens))
        out = np.zeros((len(tokens), len(LABELS)))
        for label, col in zip(crf.labels(), self._columns, strict=True):
            out[:, col] = [crf.marginal(label, i) for i in range(len(tokens))]
        return out

    def _tag_repeats(self, sentences: Sequence[Sequence[str]], labels: list[list[str]]) -> None:
        """Label untagged repeats of multi-word (or one-word ORG) names tagged elsewhere in a batch.

        Keys are normalised words with the first one clitic-stripped (so وبغداد repeats بغداد).
        """
        type_feats = self.featurizer.type_feats
        votes: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for toks, labs in zip(sentences, labels, strict=True):
            if labs.count("O") == len(labs):
                continue
            for s, e, t in sorted(spans(labs)):  # in order: the first of a tie wins
                if e - s >= 2 or t in _SINGLE_REPEAT:
                    rest = (type_feats(w)[5][0] for w in toks[s + 1 : e])
                    votes[(type_feats(toks[s])[5][1], *rest)][t] += 1
        if not votes:
            return
        known = {k: c.most_common(1)[0][0] for k, c in votes.items()}
        prefixes = {k[:m] for k in known for m in range(2, len(k))}  # of longer names
        firsts = {k[0] for k in known}
        # the word types that can open a repeat, checked once per type rather than per token
        opens = {t for t in {t for s in sentences for t in s} if type_feats(t)[5][1] in firsts}
        for toks, labs in zip(sentences, labels, strict=True):
            # visit the words that can open a repeat (a name just tagged is no longer O)
            for i in [i for i, t in enumerate(toks) if t in opens]:
                if labs[i] != "O":
                    continue
                # the longest known name from here over untagged words, one word at a time
                key: tuple[str, ...] = (type_feats(toks[i])[5][1],)
                end, etype = (i + 1, known[key]) if key in known else (i, None)
                j = i + 1
                while j < len(toks) and labs[j] == "O":
                    key += (type_feats(toks[j])[5][0],)
                    j += 1
                    if key in known:
                        end, etype = j, known[key]
                    elif key not in prefixes:
                        break
                if etype is None:
                    continue
                labs[i:end] = ["B-" + etype] + ["I-" + etype] * (end - i - 1)
