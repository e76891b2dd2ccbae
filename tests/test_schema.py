"""docs/schema.md and the README stay in step with marsad/schema.py."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from marsad.schema import (
    ARTICLES,
    ENTITY_TYPE,
    FAILURES,
    MENTIONS,
    SCHEMA_VERSION,
    SCHEMAS,
    description,
    type_name,
)

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")


def _table(text: str, heading: str) -> list[list[str]]:
    """Rows of the first Markdown table after `heading`."""
    start = text.index(heading + "\n")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            if not set(line) <= set("|- "):
                rows.append([c.strip() for c in line.strip("|").split(" | ")])
        elif rows:
            break
    return rows[1:]  # without the header


@pytest.mark.parametrize(
    ("heading", "schema"),
    [
        ("### articles", ARTICLES),
        ("### articles.entities (each element)", pa.schema(list(ENTITY_TYPE))),
        ("### mentions", MENTIONS),
        ("### failures", FAILURES),
    ],
)
def test_doc_lists_every_column_with_type_and_meaning(heading: str, schema: pa.Schema) -> None:
    rows = _table(DOC, heading)
    want = [
        [f.name, type_name(f.type), "yes" if f.nullable else "no", description(f)] for f in schema
    ]
    assert rows == want


def test_every_column_has_a_description() -> None:
    for schema in SCHEMAS.values():
        for f in schema:
            assert description(f), f.name
    for f in ENTITY_TYPE:
        assert description(f), f.name


def test_doc_names_the_current_version() -> None:
    versions = [r[0] for r in _table(DOC, "## Versions and evolution")]
    assert versions[-1] == SCHEMA_VERSION
    assert f"(now `{SCHEMA_VERSION}`)" in DOC


def test_readme_article_table_has_every_column() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = _table(readme, "`articles`:\n")
    assert [r[0] for r in rows] == ARTICLES.names
    assert re.search(r"mentions/date=YYYY-MM-DD/part-<run>-<seq>\.parquet", readme)


def test_version_4_names_are_written_and_older_tables_conform() -> None:
    from datetime import UTC, datetime

    from marsad.dataset import conform
    from marsad.record import Article, Entity
    from marsad.writer import article_rows, mention_rows, to_table

    ent = Entity("للعراق", "للعراق", "LOC", 0, 6, "Q796", "العراق", "Iraq")
    art = Article("http://x.test/1", "s", datetime(2026, 1, 2, tzinfo=UTC), article_id="a1")
    art.entities = [ent, Entity("زيد", "زيد", "PERS", 7, 10)]  # positional: no name given
    arts, ments = (
        to_table(article_rows([art]), "articles"),
        to_table(mention_rows([art]), "mentions"),
    )
    nested = arts.column("entities").to_pylist()[0]
    assert [(e["name"], e["name_en"]) for e in nested] == [("العراق", "Iraq"), (None, None)]
    assert ments.column("name").to_pylist() == ["العراق", None]
    # a version 3 table (no names anywhere) conforms to version 4 with nulls
    old_entity = pa.struct([f for f in ENTITY_TYPE if f.name not in ("name", "name_en")])
    old = pa.table({"entities": pa.array([[{"text": "زيد", "start": 0}]], pa.list_(old_entity))})
    up = conform(old, ARTICLES)
    assert up.column("entities").to_pylist() == [
        [{**dict.fromkeys(ENTITY_TYPE.names), "text": "زيد", "start": 0}]
    ]
    flat = conform(pa.table({"text": ["زيد"]}), MENTIONS)
    assert flat.column("name").to_pylist() == [None] and SCHEMA_VERSION == "6"
