"""The camel-tools BERT backend, wired to a tiny randomly initialised model in camel's layout."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from marsad.entities import find_entities, tag_articles
from marsad.ner.backends import tagger_for
from marsad.ner.camel_bert import (
    BIO,
    CamelBertTagger,
    CamelBertUnavailable,
    default_model_dir,
    load_camel_tagger,
)
from marsad.record import Article
from marsad.settings import Settings

if TYPE_CHECKING:
    import torch

CAMEL_LABELS = ["B-LOC", "B-ORG", "B-PERS", "B-MISC", "I-LOC", "I-ORG", "I-PERS", "I-MISC", "O"]
LETTERS = sorted(set("ابتثجحخدذرسشصضطظعغفقكلمنهويةىءأإآؤئ"))
TEXT = "أكد وزير الخارجية أن الحوارات مستمرة مع حلف «الناتو» في بغداد.\nوقال\u200b إن داعش يتراجع."


def _save_model(model_dir: Path, labels: list[str], force: str | None = None) -> None:
    """A 1-layer, 16-wide BERT token classifier with a WordPiece vocabulary of Arabic letters.

    Randomly initialised; `force` makes its classifier always pick that label.
    """
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizer

    model_dir.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "الناتو", "بغداد", "في", "أن"]
    vocab += LETTERS + ["##" + c for c in LETTERS] + list(".،«»:")
    (model_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(str(model_dir / "vocab.txt"), do_lower_case=False).save_pretrained(model_dir)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=260,  # camel-tools pads to 256 word pieces
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForTokenClassification(config)
    if force is not None:
        _force(model.classifier, labels, force)
    model.save_pretrained(model_dir)


def _force(head: torch.nn.Linear, labels: list[str], label: str) -> None:
    import torch

    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([10.0 if lab == label else 0.0 for lab in labels]))


def _camel_data(root: Path, force: str | None = None) -> Path:
    """A CAMELTOOLS_DATA directory as `camel_data -i ner-arabert` leaves it (catalogue + model)."""
    _save_model(root / "data" / "ner" / "arabert", CAMEL_LABELS, force)
    catalogue = {
        "version": "1.6",
        "packages": {},
        "components": {
            "NamedEntityRecognition": {
                "default": "arabert",
                "datasets": {"arabert": {"path": "ner/arabert"}},
            }
        },
    }
    (root / "catalogue.json").write_text(json.dumps(catalogue), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def camel_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _camel_data(tmp_path_factory.mktemp("camel_data"))


@pytest.fixture()
def use_camel_data(camel_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAMELTOOLS_DATA", str(camel_data))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return camel_data


def test_missing_data_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMELTOOLS_DATA", str(tmp_path))
    assert default_model_dir() == tmp_path / "data" / "ner" / "arabert"
    with pytest.raises(CamelBertUnavailable) as err:
        tagger_for("camel-bert")
    msg = str(err.value)
    assert str(tmp_path / "data" / "ner" / "arabert") in msg
    assert "camel_data -i ner-arabert" in msg and "CAMELTOOLS_DATA" in msg
    art = Article("u", "s", datetime.now(UTC), text="نص")
    with pytest.raises(CamelBertUnavailable, match="camel_data -i ner-arabert"):
        tag_articles([art], settings=Settings(ner_backend="camel-bert"))


def test_weights_without_vocabulary_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CamelBertUnavailable, match=r"missing vocab.txt\);"):
        CamelBertTagger(tmp_path)


def test_a_tiny_model_tags_through_camel_tools(use_camel_data: Path) -> None:
    tagger = tagger_for("camel-bert")
    assert tagger is load_camel_tagger()  # loaded once per process
    assert type(tagger._rec).__module__ == "camel_tools.ner"
    sents = [["الناتو", "في", "بغداد"], ["\u200b", "داعش", "xyz"], []]
    labels = tagger.tag(sents)
    assert [len(s) for s in labels] == [3, 3, 0]
    assert all(label in BIO for s in labels for label in s)
    # a word camel's tokenizer reduces to nothing is dropped by camel-tools, and comes back "O"
    assert labels[1][0] == "O"
    assert tagger.tag(sents) == labels  # deterministic


def test_the_label_mapping_comes_from_the_model(use_camel_data: Path) -> None:
    """Force every word piece to one label: the tagger must report exactly that label."""
    tagger = CamelBertTagger(use_camel_data / "data" / "ner" / "arabert")  # a private copy
    _force(tagger._rec.model.classifier, CAMEL_LABELS, "I-ORG")
    ents = find_entities(TEXT, tagger)
    # all I-ORG: one ORG mention per sentence, from its first to its last token
    assert [(e.label, e.text) for e in ents] == [
        ("ORG", TEXT[: TEXT.index("\n")]),
        ("ORG", TEXT[TEXT.index("\n") + 1 :]),
    ]


def test_settings_select_camel_bert_and_linking_still_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _camel_data(tmp_path, force="O")  # a model that finds nothing on its own
    monkeypatch.setenv("CAMELTOOLS_DATA", str(root))
    art = Article("u", "s", datetime.now(UTC), text=TEXT, language="ar")
    done, failed = tag_articles([art], settings=Settings(ner_backend="camel-bert"))
    assert not failed
    assert load_camel_tagger().model_dir == root / "data" / "ner" / "arabert"
    assert [(e.text, e.label, e.entity_id) for e in done[0].entities] == [
        ("الناتو", "ORG", "Q7184"),
        ("بغداد", "LOC", "Q1530"),
        ("داعش", "ORG", "Q2429253"),
    ]


def test_a_model_with_other_labels_is_refused(tmp_path: Path) -> None:
    _save_model(tmp_path, ["O", "B-PER", "I-PER"])
    with pytest.raises(CamelBertUnavailable, match=r"not a camel-tools NER model.*B-PER"):
        CamelBertTagger(tmp_path)
