"""Rebuild the bundled NER model from the shared data (training only: needs ../shared).

Steps, each deterministic for a given seed:
1. tokenise + normalise SaudiNewsNet, train word2vec (1 worker), k-means it into nested clusters;
2. compile the gazetteers into one compact lookup file;
3. train the CRF on ANERcorp's train split (optionally holding out its last 10% as dev).
"""

from __future__ import annotations

import csv
import logging
import random
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from marsad.ner.conll import read_conll, score
from marsad.ner.features import Featurizer
from marsad.ner.resources import (
    CLUSTER_FILE,
    DATA_DIR,
    GAZETTEER_FILE,
    MODEL_FILE,
    load_resources,
    write_clusters,
    write_gazetteer,
)
from marsad.text.arabic import fold_token

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

log = logging.getLogger(__name__)

SEED = 13
DEFAULT_SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TRAIN_FILE = "data/ner/anercorp/camel-split-reconstructed/ANERCorp_CamelLab_train.reconstructed.txt"
TEST_FILE = "data/ner/anercorp/camel-split-reconstructed/ANERCorp_CamelLab_test.reconstructed.txt"
CORPUS_DIR = "data/corpus/saudinewsnet"
GAZ_DIR = "data/gazetteers"
CLUSTER_SIZES = (64, 256, 1024)
_SIMPLE_TOKENS = re.compile(r"\w+|[^\w\s]")

# Generic context words, written by hand from Arabic news style (not from any test set).
TRIGGERS: dict[str, str] = {
    **dict.fromkeys(
        [
            "الرئيس",
            "رئيس",
            "وزير",
            "الوزير",
            "وزيرة",
            "الوزيرة",
            "السيد",
            "السيدة",
            "الدكتور",
            "الدكتورة",
            "د",
            "الشيخ",
            "الامير",
            "الأمير",
            "الملك",
            "الملكة",
            "اللواء",
            "العميد",
            "العقيد",
            "الجنرال",
            "المستشار",
            "النائب",
            "الأمين",
            "السفير",
            "المتحدث",
            "الناطق",
            "نائب",
            "الزعيم",
            "القائد",
            "المدير",
            "الأستاذ",
            "البروفيسور",
            "المطران",
            "البابا",
            "الإمام",
            "المبعوث",
            "المندوب",
            "زعيم",
            "الفريق",
            "المشير",
            "الرائد",
            "النقيب",
            "القاضي",
            "المحامي",
            "الكاتب",
            "الصحفي",
            "المخرج",
            "الفنان",
            "الفنانة",
            "اللاعب",
            "المدرب",
            "السناتور",
            "المرشح",
            "رئيسة",
            "المفوض",
            "المنسق",
            "السكرتير",
            "العاهل",
            "ولي",
            "الحاكم",
            "المحافظ",
            "القيادي",
            "الشاعر",
            "المطرب",
            "المغني",
            "الممثل",
            "الروائي",
            "الباحث",
            "المحلل",
            "الخبير",
        ],
        "title",
    ),
    **dict.fromkeys(
        [
            "حلف",
            "منظمة",
            "وزارة",
            "قوات",
            "حزب",
            "حركة",
            "جبهة",
            "مجلس",
            "هيئة",
            "شركة",
            "بنك",
            "مصرف",
            "جامعة",
            "وكالة",
            "اتحاد",
            "جمعية",
            "لجنة",
            "مؤسسة",
            "مركز",
            "صندوق",
            "منتدى",
            "جيش",
            "كتائب",
            "تنظيم",
            "ميليشيا",
            "مليشيا",
            "محكمة",
            "برلمان",
            "البرلمان",
            "الكونغرس",
            "نادي",
            "فريق",
            "صحيفة",
            "جريدة",
            "قناة",
            "تلفزيون",
            "إذاعة",
            "معهد",
            "أكاديمية",
            "مجموعة",
            "رابطة",
            "نقابة",
            "سلطة",
            "مفوضية",
            "بعثة",
            "ائتلاف",
            "تحالف",
        ],
        "orghead",
    ),
    **dict.fromkeys(
        [
            "مدينة",
            "محافظة",
            "ولاية",
            "إقليم",
            "منطقة",
            "قرية",
            "بلدة",
            "جزيرة",
            "جزر",
            "نهر",
            "بحر",
            "جبل",
            "خليج",
            "مضيق",
            "عاصمة",
            "العاصمة",
            "دولة",
            "مقاطعة",
            "حي",
            "مخيم",
            "ميناء",
            "مطار",
            "بلدية",
            "ضاحية",
        ],
        "lochead",
    ),
}


def simple_tokenize(text: str) -> list[str]:
    """camel_tools' simple_word_tokenize when installed, else an equivalent regex split."""
    try:
        from camel_tools.tokenizers.word import simple_word_tokenize
    except ImportError:
        return _SIMPLE_TOKENS.findall(text)
    return simple_word_tokenize(text)


# ---------------------------------------------------------------- clusters


def prepare_corpus(shared: Path, out: Path) -> Path:
    """Tokenise and normalise SaudiNewsNet into one sentence-per-line file (cached)."""
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp")
    cache: dict[str, str] = {}
    with open(tmp, "w", encoding="utf-8") as sink:
        for part in sorted((shared / CORPUS_DIR).glob("saudinewsnet_*.txt")):
            with open(part, encoding="utf-8") as handle:
                for line in handle:
                    toks = []
                    for tok in simple_tokenize(line):
                        norm = cache.get(tok)
                        if norm is None:
                            norm = cache[tok] = fold_token(tok)
                        toks.append(norm)
                    sink.write(" ".join(toks) + "\n")
    tmp.rename(out)
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


# ---------------------------------------------------------------- gazetteers


def _norm_entry(text: str) -> list[str]:
    return [fold_token(t) for t in simple_tokenize(text.strip().lstrip("\ufeff"))]


def _lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8-sig") as handle:
        for line in handle:
            line = line.strip()
            if line:
                yield line


def build_gazetteer(
    shared: Path,
) -> tuple[dict[str, set[str]], dict[str, str], dict[str, str]]:
    """Token flags by source, multi-word phrases by type, and trigger words."""
    gdir = shared / GAZ_DIR
    tokens: dict[str, set[str]] = defaultdict(set)
    phrases: dict[str, str] = {}

    def add(text: str, flag: str, etype: str | None) -> None:
        toks = [t for t in _norm_entry(text) if t]
        if not toks or (any(len(t) < 2 for t in toks if not t.isdigit()) and len(toks) == 1):
            return
        if len(toks) == 1:
            tokens[toks[0]].add(flag)
        elif etype and len(toks) <= 6:
            phrases.setdefault(" ".join(toks), etype)

    with open(gdir / "wikidata-person-name-tokens/wd_person_tokens_ar.tsv", encoding="utf-8") as h:
        next(h)
        for line in h:
            tok, count, _ = line.rstrip("\n").split("\t")
            add(tok, "wdp" if int(count) >= 10 else "wdp_rare", None)
    for name, flag in (("person_ar", "anp"), ("location_ar", "anl"), ("organization_ar", "ano")):
        for line in _lines(gdir / f"anetac/{name}.txt"):
            add(line, flag, None)
    names = gdir / "arabic-first-last-names"
    for f in ("male-first--names-in-arabic.txt", "female-first-names-in-arabic.txt"):
        for line in _lines(names / f):
            add(line, "fn", "PERS")
    for line in _lines(names / "last-names-in-arabic.txt"):
        add(line, "sn", "PERS")
    gate = gdir / "gate-arabic/gazetteer"
    for f, flag, etype in (
        ("male_names.lst", "fn", "PERS"),
        ("female_names.lst", "fn", "PERS"),
        ("surnames.lst", "sn", "PERS"),
        ("city.lst", "loc", "LOC"),
        ("city_world.lst", "loc", "LOC"),
        ("country.lst", "loc", "LOC"),
        ("country_world.lst", "loc", "LOC"),
        ("location_other.lst", "loc", "LOC"),
        ("mountains.lst", "loc", "LOC"),
        ("rivers.lst", "loc", "LOC"),
        ("oceans_seas_islands.lst", "loc", "LOC"),
        ("organisations.lst", "org", "ORG"),
    ):
        for line in _lines(gate / f):
            add(line, flag, etype)
    inferred = gdir / "gate-arabic/inferred-gazetteer"
    for f, flag, etype in (
        ("GPE.lst", "loc", "LOC"),
        ("Org.lst", "org", "ORG"),
        ("Per.lst", "per", "PERS"),
    ):
        for line in _lines(inferred / f):
            if len(line) >= 3:
                add(line, flag, etype)
    for line in _lines(inferred / "Nationality.lst"):
        add(line, "nat", None)
    aner = gdir / "anergazet"
    for f, flag, etype in (
        ("AlignedGazetteer_Loc.txt", "loc", "LOC"),
        ("AlignedGazetteer_Org.txt", "org", "ORG"),
        ("AlignedGazetteer_Pers.txt", "per", "PERS"),
    ):
        for line in _lines(aner / f):
            if not line.startswith(("====", "****")):
                add(line, flag, etype)
    with open(gdir / "csc-places-ar/csc_ar_places.tsv", encoding="utf-8") as h:
        for row in csv.DictReader(h, delimiter="\t"):
            add(row["name_ar"], "loc" if row["type"] == "country" else "city", "LOC")
    with open(gdir / "world-cities-ar/world-cities.csv", encoding="utf-8-sig") as h:
        for row in csv.DictReader(h):
            add(row["CountryNameAr"], "loc", "LOC")
            city = row["CityNameAr"]
            add(city, "city", "LOC")
            for head in ("ولاية ", "محافظة ", "مقاطعة ", "إقليم "):
                if city.startswith(head):
                    add(city[len(head) :], "city", "LOC")
    titles = gate / "titles.lst"
    triggers = {fold_token(w): t for w, t in TRIGGERS.items()}
    for line in _lines(titles):
        toks = _norm_entry(line)
        if len(toks) == 1:
            triggers.setdefault(toks[0], "title")
    return tokens, phrases, triggers


# ---------------------------------------------------------------- CRF


@dataclass
class CrfParams:
    """L-BFGS settings; chosen on the document-contiguous dev split (see docs/ner.md)."""

    c1: float = 0.05
    c2: float = 0.01
    max_iterations: int = 300


def split_dev(sentences: Sequence, frac: float = 0.1) -> tuple[list, list]:
    """Last `frac` of sentences as dev: contiguous, so no document is shared with train."""
    cut = int(len(sentences) * (1 - frac))
    return list(sentences[:cut]), list(sentences[cut:])


def train_crf(
    sentences: Sequence[Sequence[tuple[str, str | None]]],
    feat: Featurizer,
    model_path: Path,
    params: CrfParams,
) -> None:
    """Fit a linear-chain CRF with python-crfsuite and write it to `model_path`."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for sent in sentences:
        tokens = [t for t, _ in sent]
        labels = [lab or "O" for _, lab in sent]
        trainer.append(feat.sentence(tokens), labels)
    trainer.set_params(
        {
            "c1": params.c1,
            "c2": params.c2,
            "max_iterations": params.max_iterations,
            "feature.possible_transitions": True,
        }
    )
    trainer.train(str(model_path))


def evaluate_on(model_dir: Path, sentences: Sequence[Sequence[tuple[str, str | None]]]) -> str:
    """Score a model directory on labelled sentences; returns the table text."""
    from marsad.ner.model import Tagger

    tagger = Tagger(model_dir)
    gold = [[lab or "O" for _, lab in s] for s in sentences]
    t0 = time.process_time()
    pred = tagger.tag([[t for t, _ in s] for s in sentences])
    secs = time.process_time() - t0
    ntok = sum(len(s) for s in sentences)
    return score(gold, pred).table() + f"\n{ntok / secs:,.0f} tokens/s (CPU time, cold cache)"


def build(
    shared: Path = DEFAULT_SHARED,
    out: Path = DATA_DIR,
    seed: int = SEED,
    dev: bool = False,
    work: Path | None = None,
    params: CrfParams | None = None,
    reuse: bool = False,
    neural: bool = True,
) -> str:
    """Full rebuild into `out`; with `dev`, train on the first 90% and report dev scores.

    `reuse` keeps the cluster and gazetteer files already in `out` and retrains the models only.
    `neural` also trains the neural tagger of the ensemble (torch); without it any neural file
    in `out` is removed, so `out` holds a CRF-only model.
    """
    random.seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    work = work or Path(tempfile.gettempdir()) / "marsad-ner-work"
    work.mkdir(parents=True, exist_ok=True)
    if not (reuse and (out / CLUSTER_FILE).exists()):
        log.info("preparing corpus")
        corpus = prepare_corpus(shared, work / "saudinewsnet.norm.txt")
        log.info("training clusters")
        write_clusters(out / CLUSTER_FILE, train_clusters(corpus, seed, work))
    if not (reuse and (out / GAZETTEER_FILE).exists()):
        log.info("compiling gazetteers")
        write_gazetteer(out / GAZETTEER_FILE, *build_gazetteer(shared))
    sentences = read_conll(shared / TRAIN_FILE)
    train, dev_part = split_dev(sentences) if dev else (sentences, [])
    log.info("training CRF on %d sentences", len(train))
    train_crf(train, Featurizer(load_resources(out)), out / MODEL_FILE, params or CrfParams())
    from marsad.ner.model import NEURAL_FILE

    (out / NEURAL_FILE).unlink(missing_ok=True)
    if neural:
        from marsad.ner.train_neural import build_neural

        log.info("training the neural tagger")
        log.info(build_neural(shared, out, seed, dev=dev, work=work))
    return evaluate_on(out, dev_part) if dev else "trained"
