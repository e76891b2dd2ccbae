from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from marsad.watchlist import (
    WatchlistError,
    default_watchlist_path,
    load_watchlist,
    parse_watchlist,
)

REPO = Path(__file__).resolve().parents[1]
GOOD = """
entities:
  - id: Q7184
    type: ORG
    name: NATO
    ar: [الناتو, حلف شمال الأطلسي]
    latin: [NATO]
  - id: some-minister
    type: PERS
    name: Some Minister
    ar: [زيد عمرو]
"""


def test_shipped_watchlist_is_the_package_resource_and_loads() -> None:
    path = Path(default_watchlist_path())
    assert path.resolve() == (REPO / "seeds" / "watchlist.yaml").resolve()
    wl = load_watchlist()
    assert load_watchlist() is wl  # once per process
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert len(wl) == len(raw["entities"]) >= 100
    assert {e.type for e in wl.entries} == {"PERS", "LOC", "ORG"}


@pytest.mark.parametrize(
    ("entity_id", "alias", "kind"),
    [
        ("Q7184", "حلف شمال الأطلسي", "ORG"),
        ("Q7184", "NATO", "ORG"),
        ("Q2429253", "تنظيم الدولة الإسلامية", "ORG"),
        ("Q2429253", "ISIL", "ORG"),
        ("Q1065", "الأمم المتحدة", "ORG"),
        ("Q796", "العراق", "LOC"),
        ("Q1530", "بغداد", "LOC"),
    ],
)
def test_shipped_watchlist_has_the_usual_suspects(entity_id: str, alias: str, kind: str) -> None:
    entry = load_watchlist().get(entity_id)
    assert entry is not None and entry.type == kind
    assert alias in entry.ar + entry.latin


def test_shipped_watchlist_leaves_out_the_seed_articles_people() -> None:
    aliases = {a for e in load_watchlist().entries for a in e.ar + e.latin}
    for name in ["فؤاد حسين", "تحسين الخفاجي", "ماثيو موريس", "حسين علاوي", "جان إيف لودريان"]:
        assert not any(name in a or a in name.split() for a in aliases), name


def test_a_good_file_parses_with_keys_for_normalised_aliases() -> None:
    wl = parse_watchlist(GOOD, "mine.yaml")
    assert [e.id for e in wl.entries] == ["Q7184", "some-minister"]
    assert wl.keys[("حلف", "شمال", "الاطلسي")].id == "Q7184"  # folded like the text will be
    assert wl.keys[("NATO",)].id == "Q7184"
    assert wl.keys[("زيد", "عمرو")].type == "PERS"


def _entry(**kw: object) -> str:
    base: dict[str, object] = {"id": "Q1", "type": "ORG", "name": "X", "ar": ["مثال"]}
    base.update(kw)
    return yaml.safe_dump({"entities": [base]}, allow_unicode=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_entry(colour="red"), "mine.yaml: entity #1 ('Q1'): key 'colour': unknown key"),
        (_entry(type="PERSON"), "mine.yaml: entity #1 ('Q1'): key 'type': Input should be"),
        (_entry(id="Nato Org"), "mine.yaml: entity #1 ('Nato Org'): key 'id': Value error"),
        (_entry(ar=["NATO"]), "key 'ar': Value error, 'NATO' is not written in Arabic script"),
        (_entry(latin=["ناتو"]), "key 'latin': Value error, 'ناتو' is not written in Latin"),
        (_entry(ar=["  "]), "key 'ar': Value error, empty alias"),
        (_entry(ar="الناتو"), "key 'ar': Input should be a valid list"),
        (_entry(name=None), "key 'name': Input should be a valid string"),
        (_entry(ar=[]), "mine.yaml: entity #1 ('Q1'): no alias"),
        (_entry(ar=["ـًـ"]), "key 'ar.0': alias 'ـًـ' is too short"),
        (_entry(ar=["و"]), "mine.yaml: entity #1 ('Q1'): key 'ar.0': alias 'و' is too short"),
        ("entities: []\n", "mine.yaml: 'entities' is empty"),
        ("- just a list\n", "mine.yaml: expected a mapping with an 'entities' list"),
        ("entities: [\n", "mine.yaml: not valid YAML"),
        ("entitys: []\n", "mine.yaml: key 'entitys': unknown key"),
    ],
)
def test_bad_watchlists_are_refused_naming_file_entry_and_key(text: str, expected: str) -> None:
    with pytest.raises(WatchlistError) as err:
        parse_watchlist(text, "mine.yaml")
    assert expected in str(err.value)


def test_duplicate_ids_are_refused() -> None:
    text = GOOD + "  - {id: Q7184, type: ORG, name: again, ar: [أوتان]}\n"
    with pytest.raises(WatchlistError, match=r"entity #3 \('Q7184'\): key 'id': duplicate id"):
        parse_watchlist(text, "mine.yaml")


def test_an_alias_claimed_by_two_entities_is_refused_after_normalisation() -> None:
    # الأطلسي and الاطلسي differ only in the hamza, which matching folds away
    text = GOOD + "  - {id: atlantic, type: LOC, name: Atlantic, ar: [حلف شمال الاطلسي]}\n"
    with pytest.raises(WatchlistError) as err:
        parse_watchlist(text, "mine.yaml")
    msg = str(err.value)
    assert "entity #3 ('atlantic'): key 'ar.0'" in msg
    assert "already an alias of 'Q7184'" in msg


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match="no such watchlist file"):
        load_watchlist(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("entities: [caf\xe9]".encode("latin-1"))
    with pytest.raises(WatchlistError, match="cannot read"):
        load_watchlist(str(bad))
