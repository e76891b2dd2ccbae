"""Where `marsad ner train` finds its data: a folder given on the command line or in the
environment, never a path baked into the package.

The folder holds ANERcorp (CAMeL Lab split), SaudiNewsNet and the name lists, laid out as:

    DIR/data/ner/anercorp/camel-split-reconstructed/ANERCorp_CamelLab_{train,test}.reconstructed.txt
    DIR/data/corpus/saudinewsnet/saudinewsnet_*.txt
    DIR/data/gazetteers/...
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATA_ENV = "MARSAD_NER_DATA"
TRAIN_FILE = "data/ner/anercorp/camel-split-reconstructed/ANERCorp_CamelLab_train.reconstructed.txt"
TEST_FILE = "data/ner/anercorp/camel-split-reconstructed/ANERCorp_CamelLab_test.reconstructed.txt"
CORPUS_DIR = "data/corpus/saudinewsnet"
GAZ_DIR = "data/gazetteers"


DATA_HELP = (
    f"the training data folder (holds data/ner, data/corpus, data/gazetteers); default ${DATA_ENV}"
)


class TrainingDataError(ValueError):
    """No usable training data folder; the message says what to pass."""


def resolve_data_dir(given: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The training data folder: `given` (--data-dir), else $MARSAD_NER_DATA, else an error.

    The folder must hold ANERcorp's train split at `TRAIN_FILE`, so a wrong path fails here
    rather than after the corpus has been read.
    """
    env = os.environ if environ is None else environ
    if given is not None:
        where, path = f"--data-dir {given}", given
    elif env.get(DATA_ENV):
        where, path = f"{DATA_ENV}={env[DATA_ENV]}", Path(env[DATA_ENV])
    else:
        raise TrainingDataError(
            f"no training data: pass --data-dir DIR or set {DATA_ENV}=DIR "
            f"(DIR holds {TRAIN_FILE.split('/camel')[0]}, {CORPUS_DIR} and {GAZ_DIR})"
        )
    if not (path / TRAIN_FILE).is_file():
        raise TrainingDataError(f"{where}: no ANERcorp train split at {path / TRAIN_FILE}")
    return path
