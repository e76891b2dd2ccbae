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
