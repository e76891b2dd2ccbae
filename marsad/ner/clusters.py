"""Word clusters from unlabelled news: tokenise and normalise SaudiNewsNet, train word2vec
(one worker, so deterministic for a seed), k-means it into nested cluster ids.

The word2vec model is also the neural tagger's word table (marsad/ner/train_neural.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from marsad.ner.resources import replacing
from marsad.ner.training_data import CORPUS_DIR
from marsad.text.arabic import fold_token

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

CLUSTER_SIZES = (64, 256, 1024)
_SIMPLE_TOKENS = re.compile(r"\w+|[^\w\s]")


def simple_tokenize(text: str) -> list[str]:
    """camel_tools' simple_word_tokenize when installed, else an equivalent regex split."""
    try:
        from camel_tools.tokenizers.word import simple_word_tokenize
    except ImportError:
        return _SIMPLE_TOKENS.findall(text)
    return list(simple_word_tokenize(text))


def prepare_corpus(data_dir: Path, out: Path) -> Path:
    """Tokenise and normalise SaudiNewsNet into one sentence-per-line file (cached)."""
    if out.exists():
        return out
    cache: dict[str, str] = {}
    with replacing(out) as tmp, open(tmp, "w", encoding="utf-8") as sink:
        for part in sorted((data_dir / CORPUS_DIR).glob("saudinewsnet_*.txt")):
            with open(part, encoding="utf-8") as handle:
                for line in handle:
                    toks = []
                    for tok in simple_tokenize(line):
                        norm = cache.get(tok)
                        if norm is None:
                            norm = cache[tok] = fold_token(tok)
                        toks.append(norm)
                    sink.write(" ".join(toks) + "\n")
    return out


def train_word2vec(corpus: Path, seed: int, path: Path) -> KeyedVectors:
    """Skip-gram vectors of the normalised corpus (one worker: deterministic), cached at `path`.

    The clusters and the neural tagger's word table both come from this model.
    """
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    if path.exists():
        return Word2Vec.load(str(path)).wv
    model = Word2Vec(
        LineSentence(str(corpus)),
        vector_size=100,
        window=5,
        min_count=5,
        sg=1,
        negative=5,
        epochs=5,
        workers=1,
        seed=seed,
    )
    model.save(str(path))
    return model.wv


def train_clusters(corpus: Path, seed: int, work: Path) -> dict[str, tuple[str, ...]]:
    """word2vec skip-gram on the corpus, then nested k-means ids (coarse to fine) per word.

    Finest clusters come from k-means over word vectors; coarser ones cluster the fine
    centroids, so ids nest like Brown-cluster prefixes.
    """
    import numpy as np
    from sklearn.cluster import KMeans

    wv = train_word2vec(corpus, seed, work / f"w2v-{seed}.model")
    words = list(wv.index_to_key)
    vecs = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    fine_k = CLUSTER_SIZES[-1]
    km = KMeans(n_clusters=fine_k, n_init=1, max_iter=60, random_state=seed).fit(vecs)
    levels = [km.labels_]
    centroids = km.cluster_centers_
    for k in CLUSTER_SIZES[:-1]:
        coarse = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(centroids)
        levels.insert(len(levels) - 1, coarse.labels_[km.labels_])
    return {w: tuple(str(int(level[i])) for level in levels) for i, w in enumerate(words)}
