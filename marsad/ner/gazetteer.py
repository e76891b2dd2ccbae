"""The gazetteers: name lists from the training data folder compiled into token flags,
multi-word phrases by type and trigger words (written by `resources.write_gazetteer`)."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from marsad.ner.clusters import simple_tokenize
from marsad.ner.training_data import GAZ_DIR
from marsad.ner.triggers import TRIGGERS
from marsad.text.arabic import fold_token


def _norm_entry(text: str) -> list[str]:
    return [fold_token(t) for t in simple_tokenize(text.strip().lstrip("\ufeff"))]


def _lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8-sig") as handle:
        for line in handle:
            line = line.strip()
            if line:
                yield line


def build_gazetteer(
    data_dir: Path,
) -> tuple[dict[str, set[str]], dict[str, str], dict[str, str]]:
    """Token flags by source, multi-word phrases by type, and trigger words."""
    gdir = data_dir / GAZ_DIR
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
