"""Rebuild the bundled NER model from the training data (`marsad ner train --data-dir DIR`,
or $MARSAD_NER_DATA; marsad/ner/training_data.py says what the folder holds).

Steps, each deterministic for a given seed:
1. tokenise + normalise SaudiNewsNet, train word2vec (1 worker), k-means it into nested clusters
   (marsad/ner/clusters.py);
2. compile the gazetteers into one compact lookup file (marsad/ner/gazetteer.py);
3. train the CRF on ANERcorp's train split, optionally holding out its last 10% as dev
   (marsad/ner/crf_training.py), then the neural tagger (marsad/ner/train_neural.py).
"""

from __future__ import annotations

import logging
import random
import tempfile
from pathlib import Path

from marsad.ner.clusters import (
    CLUSTER_SIZES,
    prepare_corpus,
    simple_tokenize,
    train_clusters,
    train_word2vec,
)
from marsad.ner.conll import read_conll
from marsad.ner.crf_training import CrfParams, evaluate_on, split_dev, train_crf
from marsad.ner.features import Featurizer
from marsad.ner.gazetteer import build_gazetteer
from marsad.ner.resources import (
    CLUSTER_FILE,
    DATA_DIR,
    GAZETTEER_FILE,
    MODEL_FILE,
    load_resources,
    write_clusters,
    write_gazetteer,
)
from marsad.ner.training_data import CORPUS_DIR, GAZ_DIR, TEST_FILE, TRAIN_FILE
from marsad.ner.triggers import TRIGGERS

# The names this module held before it was split by concern, still importable from here.
__all__ = [
    "CLUSTER_SIZES",
    "CORPUS_DIR",
    "GAZ_DIR",
    "SEED",
    "TEST_FILE",
    "TRAIN_FILE",
    "TRIGGERS",
    "CrfParams",
    "build",
    "build_gazetteer",
    "evaluate_on",
    "prepare_corpus",
    "simple_tokenize",
    "split_dev",
    "train_clusters",
    "train_crf",
    "train_word2vec",
]

log = logging.getLogger(__name__)

SEED = 13


def build(
    data_dir: Path,
    out: Path = DATA_DIR,
    seed: int = SEED,
    dev: bool = False,
    work: Path | None = None,
    params: CrfParams | None = None,
    reuse: bool = False,
    neural: bool = True,
    self_train: bool = True,
    fold: tuple[int, int] | None = None,
) -> str:
    """Full rebuild into `out`; with `dev`, train on the first 90% and report dev scores
    (`fold` (k, n): the k-th of n contiguous blocks is dev instead; `crf_training.split_dev`).

    `reuse` keeps the cluster and gazetteer files already in `out` and retrains the models only.
    `neural` also trains the neural tagger of the ensemble (torch); without it any neural file
    in `out` is removed, so `out` holds a CRF-only model. `self_train` then tags silver
    sentences with that ensemble and trains the network again on gold + silver (the shipped
    recipe; about twice the network's time).
    """
    random.seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    work = work or Path(tempfile.gettempdir()) / "marsad-ner-work"
    work.mkdir(parents=True, exist_ok=True)
    if not (reuse and (out / CLUSTER_FILE).exists()):
        log.info("preparing corpus")
        corpus = prepare_corpus(data_dir, work / "saudinewsnet.norm.txt")
        log.info("training clusters")
        write_clusters(out / CLUSTER_FILE, train_clusters(corpus, seed, work))
    if not (reuse and (out / GAZETTEER_FILE).exists()):
        log.info("compiling gazetteers")
        tokens, phrases, triggers = build_gazetteer(data_dir)
        flags = {word: sorted(f) for word, f in tokens.items()}  # written sorted either way
        write_gazetteer(out / GAZETTEER_FILE, flags, phrases, triggers)
    sentences = read_conll(data_dir / TRAIN_FILE)
    train, dev_part = split_dev(sentences, fold=fold) if dev else (sentences, [])
    log.info("training CRF on %d sentences", len(train))
    train_crf(train, Featurizer(load_resources(out)), out / MODEL_FILE, params or CrfParams())
    from marsad.ner.model import NEURAL_FILE

    (out / NEURAL_FILE).unlink(missing_ok=True)
    if neural:
        from marsad.ner.train_neural import build_neural

        log.info("training the neural tagger")
        log.info(build_neural(data_dir, out, seed, dev=dev, work=work, fold=fold))
        if self_train:
            from marsad.ner.silver import build_silver
            from marsad.ner.train_neural import SELF_MIX, SELF_SETTLE, SELF_SETTLE_O_ONLY

            silver = work / f"silver-{seed}.conll"
            report = build_silver(data_dir, silver, seed=seed, model_dir=out)
            log.info("silver sentences: %s", report)
            log.info("training the neural tagger again, on gold + silver")
            log.info(
                build_neural(
                    data_dir,
                    out,
                    seed,
                    dev=dev,
                    work=work,
                    mix=SELF_MIX,
                    silver=silver,
                    settle=SELF_SETTLE,
                    settle_o_only=SELF_SETTLE_O_ONLY,
                    fold=fold,
                )
            )
    return evaluate_on(out, dev_part) if dev else "trained"
