"""camel-tools' BERT NER (CAMeLBERT fine-tuned on ANERcorp) as an optional tagger backend.

Chosen with `Settings.ner_backend = "camel-bert"`. The model is not shipped: users install
it with `camel_data -i ner-arabert`, which puts it under `$CAMELTOOLS_DATA/data/ner/arabert`
(default `~/.camel_tools`). We look the directory up ourselves and hand it to
`NERecognizer(model_path)` instead of calling `NERecognizer.pretrained()`, and check that
camel-tools' catalogue is present first: importing `camel_tools.ner` loads the catalogue and,
when it is missing, tries to download it, which must not happen in a scheduled run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

INSTALL_HINT = (
    "install it with `camel_data -i ner-arabert` (it downloads about 540 MB into "
    "~/.camel_tools, or into $CAMELTOOLS_DATA when that environment variable is set), "
    "or choose another ner_backend ('crf' or 'rules')"
)
WEIGHTS = ("pytorch_model.bin", "model.safetensors")
BIO = frozenset(["O"] + [f"{p}-{t}" for p in ("B", "I") for t in ("PERS", "LOC", "ORG", "MISC")])


class CamelBertUnavailable(RuntimeError):
    """camel-tools' NER data is missing or unusable; the message says how to install it."""


def camel_data_dir() -> Path:
    """Where camel-tools keeps its data: $CAMELTOOLS_DATA, else ~/.camel_tools (as camel does)."""
    env = os.environ.get("CAMELTOOLS_DATA")
    return Path(env).expanduser().absolute() if env else Path.home() / ".camel_tools"


def default_model_dir() -> Path:
    return camel_data_dir() / "data" / "ner" / "arabert"


def _check(model_dir: Path) -> None:
    missing = [f for f in ("config.json", "vocab.txt") if not (model_dir / f).is_file()]
    if not any((model_dir / w).is_file() for w in WEIGHTS):
        missing.append(" or ".join(WEIGHTS))
    if missing:
        raise CamelBertUnavailable(
            f"camel-tools' BERT NER model not found in {model_dir} "
            f"(missing {', '.join(missing)}); {INSTALL_HINT}"
        )
    catalogue = camel_data_dir() / "catalogue.json"
    if "camel_tools.data" not in sys.modules and not catalogue.is_file():
        raise CamelBertUnavailable(
            f"camel-tools' catalogue {catalogue} is missing, and camel-tools would try to "
            f"download it on import; {INSTALL_HINT}"
        )


class CamelBertTagger:
    """The `Tagger` protocol over `camel_tools.ner.NERecognizer`, loaded once per process."""

    def __init__(self, model_dir: str | Path | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        _check(self.model_dir)
        try:
            from camel_tools.ner import NERecognizer

            self._rec = NERecognizer(str(self.model_dir))
        except Exception as exc:  # a corrupt download, a transformers mismatch, ...
            raise CamelBertUnavailable(
                f"cannot load camel-tools' BERT NER from {self.model_dir}: "
                f"{type(exc).__name__}: {exc}; {INSTALL_HINT}"
            ) from exc
        labels = set(self._rec.labels_map.values())
        if not labels <= BIO:
            raise CamelBertUnavailable(
                f"{self.model_dir} is not a camel-tools NER model: labels {sorted(labels - BIO)} "
                f"are not PERS/LOC/ORG/MISC in BIO; {INSTALL_HINT}"
            )

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        sents = [list(s) for s in sentences]
        preds = self._rec.predict(sents) if sents else []
        return [self._align(s, p) for s, p in zip(sents, preds, strict=True)]

    def _align(self, words: list[str], preds: list[str]) -> list[str]:
        """camel-tools skips words its tokenizer reduces to nothing; they get "O" back."""
        if len(preds) == len(words):
            return list(preds)
        it = iter(preds)
        out = [next(it, "O") if self._rec.tokenizer.tokenize(w) else "O" for w in words]
        return out


@cache
def _load(model_dir: str) -> CamelBertTagger:
    return CamelBertTagger(model_dir)


def load_camel_tagger(model_dir: str | Path | None = None) -> CamelBertTagger:
    """The camel-tools tagger for a model directory (default: camel's data dir), cached."""
    return _load(str(Path(model_dir) if model_dir else default_model_dir()))
