"""Entity stage: tag people, places, organisations and other names, with offsets into `text`.

The tagger works on tokens of the original text; spans come back as character
offsets into `Article.text`, so `text[start:end] == entity.text` always holds.
The statistical model lives in `marsad.ner`; `RuleTagger` is the dependency-free
fallback (titles, organisation heads, a short list of places); `marsad.camel_bert` wraps
camel-tools' BERT NER for those who installed its data. Mentions are then linked to the
watchlist (`marsad.linking`), which also adds the watchlist names the tagger missed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Protocol

from marsad.linking import Linker, load_linker
from marsad.ner.features import normalise as fold_token
from marsad.ner.features import strip_clitics
from marsad.record import Article, Entity, Failure
from marsad.settings import Settings
from marsad.tasks.normalise import WORD_MARKS, Token, normalise, sentences, tokenize

LABELS = ("PERS", "LOC", "ORG", "MISC")
BACKENDS = ("crf", "rules", "camel-bert")


class Tagger(Protocol):
    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]: ...


def _fold(word: str) -> str:
    return normalise(word, "aggressive").text


# Titles and roles that introduce a person's name.
PERSON_TRIGGERS = {
    _fold(w)
    for w in [
        "الرئيس",
        "الوزير",
        "وزير",
        "اللواء",
        "العميد",
        "العقيد",
        "الفريق",
        "المشير",
        "الدكتور",
        "د",
        "الشيخ",
        "السيد",
        "السيدة",
        "الأمير",
        "الملك",
        "الملكة",
        "النائب",
        "السفير",
        "المستشار",
        "المتحدث",
        "الناطق",
        "الأمين",
        "القاضي",
        "المحامي",
        "الكاتب",
        "الصحافي",
        "الفنان",
        "المدرب",
        "اللاعب",
        "البروفسور",
        "الأستاذ",
        "الجنرال",
        "الرئيسة",
    ]
}
# Words that may follow a title before the name (وزير الخارجية العراقي فؤاد حسين).
TITLE_FILLERS = {
    _fold(w)
    for w in [
        "الخارجية",
        "الداخلية",
        "الدفاع",
        "المالية",
        "العدل",
        "الإعلام",
        "الصحة",
        "الاقتصاد",
        "التعليم",
        "النفط",
        "الوزراء",
        "العراقي",
        "العراقية",
        "الفرنسي",
        "الأميركي",
        "الأمريكي",
        "المصري",
        "السعودي",
        "السوري",
        "اللبناني",
        "الأردني",
        "التركي",
        "الإيراني",
        "الروسي",
        "البريطاني",
        "الألماني",
        "الصيني",
        "الفلسطيني",
        "الإسرائيلي",
        "الليبي",
        "اليمني",
        "الكويتي",
        "القطري",
        "الإماراتي",
        "المغربي",
        "الجزائري",
        "التونسي",
        "السوداني",
        "العام",
        "باسم",
        "الأمن",
        "الوطني",
        "الأسبق",
        "السابق",
        "الجديد",
        "الحالي",
        "الأول",
        "للأمم",
        "المتحدة",
        "الحكومة",
        "الجمهورية",
        "مجلس",
        "النواب",
        "الشعب",
        "الأمة",
        "العمليات",
        "المشتركة",
    ]
}
ORG_HEADS = {
    _fold(w)
    for w in [
        "حلف",
        "منظمة",
        "وزارة",
        "قوات",
        "حركة",
        "حزب",
        "جماعة",
        "تنظيم",
        "مجلس",
        "هيئة",
        "شركة",
        "جامعة",
        "بنك",
        "البنك",
        "الاتحاد",
        "جبهة",
        "مؤسسة",
        "وكالة",
        "اللجنة",
        "لجنة",
        "جمعية",
        "محكمة",
        "المحكمة",
        "صندوق",
        "الجيش",
        "جيش",
        "قيادة",
    ]
}
PLACES = {
    _fold(w)
    for w in [
        "العراق",
        "بغداد",
        "سوريا",
        "دمشق",
        "لبنان",
        "بيروت",
        "مصر",
        "القاهرة",
        "السعودية",
        "الرياض",
        "الأردن",
        "عمان",
        "فلسطين",
        "القدس",
        "غزة",
        "اليمن",
        "صنعاء",
        "عدن",
        "ليبيا",
        "طرابلس",
        "تونس",
        "الجزائر",
        "المغرب",
        "الرباط",
        "السودان",
        "الخرطوم",
        "الكويت",
        "قطر",
        "الدوحة",
        "البحرين",
        "الإمارات",
        "دبي",
        "أبوظبي",
        "إيران",
        "طهران",
        "تركيا",
        "أنقرة",
        "إسطنبول",
        "روسيا",
        "موسكو",
        "فرنسا",
        "باريس",
        "ألمانيا",
        "برلين",
        "بريطانيا",
        "لندن",
        "واشنطن",
        "أمريكا",
        "أميركا",
        "الصين",
        "بكين",
        "الموصل",
        "البصرة",
        "أربيل",
        "كركوك",
        "ديالى",
        "سامراء",
        "الأنبار",
        "حلب",
        "حمص",
        "إدلب",
        "الرقة",
        "جنيف",
        "نيويورك",
        "أوروبا",
        "إسرائيل",
        "الخليج",
    ]
}
KNOWN_ORGS = {_fold(w) for w in ["الناتو", "داعش", "الأمم", "اليونسكو", "اليونيسيف", "الإنتربول"]}
_CLITICS = ("وب", "ول", "وك", "و", "ف", "ب", "ل", "ك")
_STOP = {
    _fold(w)
    for w in ["في", "من", "إلى", "على", "عن", "أن", "إن", "أنه", "التي", "الذي", "مع", "بين", "حول"]
}


def _strip_clitic(folded: str) -> str:
    for c in _CLITICS:
        rest = folded[len(c) :]
        if folded.startswith(c) and len(rest) >= 3 and (rest in PLACES or rest in KNOWN_ORGS):
            return rest
    return folded


def _is_word(tok: str) -> bool:
    folded = _fold(tok)
    return len(folded) >= 2 and folded.isalpha()


class RuleTagger:
    """Titles, organisation heads and a small place list: a floor, not the model."""

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [self._sentence(list(s)) for s in sentences]

    def _sentence(self, toks: list[str]) -> list[str]:
        folded = [_fold(t) for t in toks]
        labels = ["O"] * len(toks)
        i = 0
        while i < len(toks):
            f = _strip_clitic(folded[i])
            if f in PLACES:
                labels[i] = "B-LOC"
            elif f in KNOWN_ORGS:
                labels[i] = "B-ORG"
            elif f in ORG_HEADS and i + 1 < len(toks) and _is_word(toks[i + 1]):
                j = i + 1
                while j < len(toks) and j < i + 4 and _is_word(toks[j]) and folded[j] not in _STOP:
                    j += 1
                labels[i] = "B-ORG"
                for k in range(i + 1, j):
                    labels[k] = "I-ORG"
                i = j
                continue
            elif f in PERSON_TRIGGERS:
                j = i + 1
                while j < len(toks) and folded[j] in TITLE_FILLERS:
                    j += 1
                k = j
                while (
                    k < len(toks)
                    and k < j + 3
                    and _is_word(toks[k])
                    and (folded[k] not in _STOP and folded[k] not in PERSON_TRIGGERS)
                ):
                    k += 1
                if k > j:
                    labels[j] = "B-PERS"
                    for m in range(j + 1, k):
                        labels[m] = "I-PERS"
                    i = k
                    continue
            i += 1
        return labels


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
    return tagger


def tagger_for(backend: str, neural: bool = True) -> Tagger:
    """The tagger `Settings.ner_backend` (and `ner_neural`) name; each loaded once per process."""
    if backend == "crf":
        return load_default_tagger(neural)
    if backend == "rules":
        return RuleTagger()
    if backend == "camel-bert":
        from marsad.camel_bert import load_camel_tagger

        return load_camel_tagger()
    raise ValueError(f"ner_backend must be one of {BACKENDS}, got {backend!r}")


def spans_from_bio(tokens: Sequence[Token], labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """BIO labels to (start, end, label) character spans; a stray I- starts an entity."""
    spans: list[tuple[int, int, str]] = []
    cur: list[int] | None = None  # [start, end]
    cur_label = ""
    for tok, lab in zip(tokens, labels, strict=True):
        kind = lab[2:] if len(lab) > 2 else ""
        if lab.startswith("I-") and cur is not None and kind == cur_label:
            cur[1] = tok.end
            continue
        if cur is not None:
            spans.append((cur[0], cur[1], cur_label))
            cur = None
        if lab.startswith(("B-", "I-")) and kind in LABELS:
            cur, cur_label = [tok.start, tok.end], kind
    if cur is not None:
        spans.append((cur[0], cur[1], cur_label))
    return spans


_MARKS = re.compile(f"[{WORD_MARKS}]*")


def proclitic_chars(token: str, rank: dict[str, int] | None = None) -> int:
    """Characters of a conjunction/preposition (و ف ب ل ك) in front of a name: the mention
    وسامراء is سامراء, والعراق is العراق; the article stays, and so does a word whose first
    letter belongs to it (فؤاد، بغداد: `strip_clitics`' corpus-frequency rule)."""
    pre, _rest = strip_clitics(fold_token(token), rank)
    letters = len(pre) - 2 if pre.endswith("ال") else len(pre)
    if letters <= 0 or pre.endswith("لل"):  # للعراق: ل + (ا)لعراق, nothing clean to cut
        return 0
    i = 0
    for _ in range(letters):  # raw letters, each with the marks (diacritics) riding on it
        i = _MARKS.match(token, i + 1).end()
    return i


def find_entities(
    text: str, tagger: Tagger, level: str = "aggressive", linker: Linker | None = None
) -> list[Entity]:
    """The tagger's mentions, linked to and completed from the watchlist when given a linker."""
    toks = tokenize(text)
    sents = sentences(toks, text)
    labels = tagger.tag([[t.text for t in s] for s in sents])
    featurizer = getattr(tagger, "featurizer", None)
    rank = featurizer.res.rank if featurizer is not None else None
    out: list[Entity] = []
    for sent, labs in zip(sents, labels, strict=True):
        firsts = {t.start: t.text for t in sent}
        for start, end, label in spans_from_bio(sent, labs):
            start += proclitic_chars(firsts[start], rank)
            surface = text[start:end]
            out.append(Entity(surface, normalise(surface, level).text, label, start, end))
    return linker.link(text, out, level) if linker is not None else out


def tag_articles(
    articles: Iterable[Article],
    tagger: Tagger | None = None,
    level: str = "aggressive",
    settings: Settings | None = None,
    linker: Linker | None = None,
) -> tuple[list[Article], list[Failure]]:
    """Tag and link a batch; the tagger and the watchlist come from settings unless given."""
    settings = settings or Settings()
    tagger = tagger or tagger_for(settings.ner_backend, settings.ner_neural)
    linker = linker or load_linker(settings.watchlist)
    done: list[Article] = []
    failures: list[Failure] = []
    for art in articles:
        try:
            art.entities = find_entities(art.text or "", tagger, level, linker)
        except Exception as exc:  # one bad article must not sink the batch
            failures.append(
                Failure(
                    art.url,
                    art.source,
                    "tag",
                    f"{type(exc).__name__}: {exc}",
                    art.attempts,
                    art.run_id,
                    datetime.now(UTC),
                )
            )
            continue
        done.append(art)
    return done, failures


# --- Prefect wrapper ------------------------------------------------------------------------

from prefect import task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402


@task(name="tag", cache_policy=NO_CACHE)
def tag_task(
    articles: list[Article], level: str = "aggressive", settings: Settings | None = None
) -> tuple[list[Article], list[Failure]]:
    return tag_articles(articles, level=level, settings=settings)
