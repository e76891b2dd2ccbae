"""Sentence-level context features: evidence no single word type carries.

- quoted spans (« … », " … ", ' ' … ' '): ANERcorp labels programme, book and stadium names in
  quotes MISC, and the word before the quote (برنامج، بعنوان، ملعب) says which;
- sports sentences: a city or country name there is mostly a club (ORG: برشلونة، ليون);
- a place trigger (محافظة، مدينة، حي، قضاء، ناحية) before a name that also reads as a person's
  (مدينة الصدر), so the CRF can weigh the two readings instead of a rule overriding it.

Only the CRF reads these (the network's inputs are per word type), so adding them needs a
CRF retrain, not a network retrain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from marsad.ner.spans import PLACE_TRIGGERS
from marsad.text.arabic import fold_token

_OPEN = {"«": "»", "“": "”", '"': '"', "'": "'", "''": "''", "``": "''"}
_MAX_QUOTED = 8


def _folded(words: str) -> frozenset[str]:
    return frozenset(fold_token(w) for w in words.split())


# Words before a quoted title that make it a work or venue name (MISC in ANERcorp).
WORK_CUES = _folded(
    "برنامج برنامجها برنامجه بعنوان عنوان كتاب كتابه فيلم فيلمه مسلسل أغنية اغنية رواية "
    "روايته قصيدة مسرحية ملعب استاد ستاد مجلة صحيفة البرنامج الفيلم المسلسل الكتاب"
)
# Words that make a sentence a sports report.
SPORT_WORDS = _folded(
    "مباراة المباراة مباراته هدف هدفا الهدف أهداف الدوري دوري كأس الكأس فريق الفريق نادي "
    "النادي الشوط التعادل تعادل فاز فوز فوزه خسر ملعب استاد المنتخب منتخب لاعب اللاعب "
    "المدرب مدرب بطولة البطولة الدقيقة ضيفه مضيفه"
)
_PERSON_FLAGS = frozenset({"per", "wdp", "fn", "anp", "sn"})
_PLACE_FLAGS = frozenset({"loc", "city", "anl"})


def _core(norm: str) -> str:
    """A word without a one-letter conjunction or preposition, when the rest is a cue."""
    if norm[:1] in "وفبل" and (norm[1:] in SPORT_WORDS or norm[1:] in PLACE_TRIGGERS):
        return norm[1:]
    return norm


def quoted(tokens: Sequence[str]) -> list[int]:
    """Per token: 0 outside quotes, else the position of its opening quote + 1."""
    out = [0] * len(tokens)
    i = 0
    while i < len(tokens):
        close = _OPEN.get(tokens[i])
        if close is None:
            i += 1
            continue
        end = next(
            (j for j in range(i + 1, min(len(tokens), i + 2 + _MAX_QUOTED)) if tokens[j] == close),
            None,
        )
        if end is None or end == i + 1:
            i += 1
            continue
        for j in range(i + 1, end):
            out[j] = i + 1
        i = end + 1
    return out


def add_context(
    tokens: Sequence[str],
    forms: Sequence[Sequence[str]],
    gaz: Mapping[str, tuple[str, ...]],
    feats: list[list[str]],
) -> None:
    """Append the sentence-level features to each token's feature list, in place.

    `forms`: [normalised word, clitic-stripped stem] per token, as `Featurizer` caches them.
    """
    norms = [f[0] for f in forms]
    q = quoted(tokens)
    for i, opened in enumerate(q):
        if opened:
            cue = opened >= 2 and norms[opened - 2] in WORK_CUES
            feats[i].append("q0" if opened == i else "q")
            if cue:
                feats[i].append("qw")
    cores = [_core(n) for n in norms]
    sports = sum(1 for c in cores if c in SPORT_WORDS) >= 2
    for i, (n, stem) in enumerate(forms):
        flags = gaz.get(n) or gaz.get(stem, ())
        if sports and any(f in _PLACE_FLAGS for f in flags):
            feats[i].append("sp:loc")
        if i and cores[i - 1] in PLACE_TRIGGERS:
            feats[i].append("pt")
            if any(f in _PERSON_FLAGS for f in flags):
                feats[i].append("pt:per")
