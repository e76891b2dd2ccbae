"""Places: LOC mentions get an ISO 3166-1 alpha-2 `country`, and `lat`/`lon` for a city.

The gazetteer is marsad/places_data/places_ar.tsv (GeoNames cities of 15,000 people or more
with their Arabic names, and Arabic country names; see the README there), read once per
process, looked up with one dict access per spelling tried. A name several places share
(طرابلس: Libya's capital and a Lebanese town; عمان: Oman and Amman) goes to the most populous
unless the article's other, confidently resolved places name the country of a smaller one
(طرابلس in an article about لبنان is Lebanon's). A country has no coordinates: it is an area.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from marsad.heap import keep_for_life
from marsad.record import Entity
from marsad.text.arabic import normalise
from marsad.text.clitics import clitic_variants
from marsad.watchlist import WatchEntry

CONTEXT_BONUS = 1.5
"""Orders of magnitude of population that the article's naming a country is worth."""


@dataclass(frozen=True, slots=True)
class Place:
    country: str
    lat: float | None
    lon: float | None
    population: int
    kind: str  # city or country
    name: str  # English (GeoNames) name, for people reading the table

    @property
    def score(self) -> float:
        return math.log10(self.population + 1)


Gazetteer = dict[str, tuple[Place, ...]]


@cache
def gazetteer() -> Gazetteer:
    """Folded Arabic name to its places, most populous first; read once per process."""
    out: dict[str, list[Place]] = {}
    text = files("marsad").joinpath("places_data/places_ar.tsv").read_text(encoding="utf-8")
    for r in csv.DictReader(text.splitlines(), delimiter="\t"):
        lat, lon = (float(r["lat"]), float(r["lon"])) if r["lat"] else (None, None)
        place = Place(r["country"], lat, lon, int(r["population"]), r["kind"], r["name"])
        out.setdefault(r["key"], []).append(place)
    gaz = {k: tuple(sorted(v, key=lambda p: -p.population)) for k, v in out.items()}
    keep_for_life()
    return gaz


def _spellings(norm: str) -> Iterator[str]:
    """The name as folded, then with proclitics read off (وبغداد, للعراق), then with the article
    added or dropped (الخرطوم is listed as خرطوم)."""
    first, _, rest = norm.partition(" ")
    tail = " " + rest if rest else ""
    cores = [core + tail for _, core in clitic_variants(first)]
    yield from cores
    for core in cores:
        yield core[2:] if core.startswith("ال") else "ال" + core


def candidates(norm: str, gaz: Gazetteer | None = None) -> tuple[Place, ...]:
    """The places a folded name may be: those of its first spelling the gazetteer knows."""
    gaz = gaz if gaz is not None else gazetteer()
    for spelling in _spellings(norm):
        found = gaz.get(spelling)
        if found:
            return found
    return ()


def choose(cands: Sequence[Place], context: set[str]) -> Place:
    """The most populous place, a country the article names being worth CONTEXT_BONUS."""
    return max(cands, key=lambda p: p.score + (CONTEXT_BONUS if p.country in context else 0))


def _confident(cands: Sequence[Place]) -> str | None:
    """The country of a name that no context could overturn, else None."""
    best = cands[0]
    others = [p.score for p in cands if p.country != best.country]
    return best.country if not others or best.score - max(others) > CONTEXT_BONUS else None


def _watch_candidates(entry: WatchEntry) -> tuple[Place, ...]:
    if entry.country:
        lat, lon = entry.lat, entry.lon
        return (Place(entry.country, lat, lon, 0, "watchlist", entry.name),)
    for alias in entry.ar:
        found = candidates(normalise(alias, "aggressive").text)
        if found:
            return found
    return ()


def resolve_places(
    entities: list[Entity], watch: dict[str, WatchEntry] | None = None
) -> list[Entity]:
    """Set `country`, `lat`, `lon` on the LOC mentions that resolve, in place.

    A linked mention is its watchlist entity's place, whatever the article: the entry's
    `country` (and coordinates) when it gives one, else the most populous place its Arabic
    aliases (or the mention) name, so one id has one country. The others are resolved by
    population and the article's other places (`choose`).
    """
    watch = watch or {}
    found: list[tuple[Entity, tuple[Place, ...]]] = []
    fixed: dict[int, Place] = {}  # by position in `found`: linked mentions, context-free
    for e in entities:
        if e.label != "LOC":
            continue
        entry = watch.get(e.entity_id) if e.entity_id else None
        cands = _watch_candidates(entry) if entry is not None else ()
        cands = cands or candidates(normalise(e.text, "aggressive").text)
        if not cands:
            continue
        if entry is not None:
            fixed[len(found)] = choose(cands, set())
        found.append((e, cands))
    context = {p.country for p in fixed.values()}
    context |= {
        c for i, (_, cands) in enumerate(found) if i not in fixed and (c := _confident(cands))
    }
    for i, (e, cands) in enumerate(found):
        place = fixed.get(i) or choose(cands, context)
        e.country, e.lat, e.lon = place.country, place.lat, place.lon
    return entities
