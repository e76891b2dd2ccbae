from __future__ import annotations

from pathlib import Path

import pytest

from marsad.sources import SourcesError, load_sources, parse_sources

GOOD = """
sources:
  - name: bbc-arabic
    feeds: [https://feeds.bbci.co.uk/arabic/rss.xml]
    urls: []
    language: ar
"""


def test_good_file_parses() -> None:
    (src,) = parse_sources(GOOD, "s.yaml")
    assert src.name == "bbc-arabic"
    assert src.feeds == ["https://feeds.bbci.co.uk/arabic/rss.xml"]
    assert src.language == "ar"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("language: ar", "langauge: ar"),
            ["s.yaml", "'bbc-arabic'", "langauge", "unknown key"],
        ),
        (GOOD.replace("bbc-arabic", "BBC Arabic"), ["s.yaml", "source #1", "'name'"]),
        (GOOD.replace("https://feeds", "ftp://feeds"), ["s.yaml", "'bbc-arabic'", "feeds", "http"]),
        (
            GOOD.replace("language: ar", "language: arabic"),
            ["'bbc-arabic'", "language", "ISO 639-1"],
        ),
        ("sources: {}", ["s.yaml", "sources"]),
        ("- just\n- a list", ["s.yaml", "mapping"]),
        ("sources: [\n", ["s.yaml", "YAML"]),
        (GOOD + GOOD.replace("sources:\n", ""), ["duplicate", "bbc-arabic"]),
        ("sources:\n  - name: empty\n", ["empty", "nothing to fetch"]),
        (
            GOOD.replace("feeds.bbci.co.uk", "feeds.bbci.co.uk:99999"),
            ["feeds", "Port out of range"],
        ),
        (GOOD.replace("feeds.bbci.co.uk", "feeds.bbci.co.uk:0"), ["feeds", "port 0"]),
        (GOOD.replace("feeds.bbci.co.uk", "feeds.bbci.co.uk:http"), ["feeds", "not a valid URL"]),
        (GOOD.replace("https://feeds.bbci.co.uk", "https://:443"), ["feeds", "http(s) URL"]),
        (GOOD + "    language: en\n", ["s.yaml:7: key 'language': given twice (first on line 6)"]),
        ("sources: " + "[" * 100_000, ["s.yaml:1: nested deeper than"]),
    ],
)
def test_bad_files_name_file_source_and_key(text: str, expected: list[str]) -> None:
    with pytest.raises(SourcesError) as err:
        parse_sources(text, "s.yaml")
    for part in expected:
        assert part in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="no such sources file"):
        load_sources(tmp_path / "nope.yaml")


def test_shipped_sources_file_is_valid() -> None:
    repo = Path(__file__).resolve().parents[1]
    sources = load_sources(repo / "seeds" / "sources.yaml")
    names = {s.name for s in sources}
    assert {
        "bbc-arabic",
        "france24-arabic",
        "dw-arabic",
        "un-news-arabic",
        "asharq-al-awsat",
    } <= names


def test_ports_up_to_65535_are_fine() -> None:
    (src,) = parse_sources(GOOD.replace("feeds.bbci.co.uk", "feeds.bbci.co.uk:65535"), "s.yaml")
    assert src.feeds == ["https://feeds.bbci.co.uk:65535/arabic/rss.xml"]


def test_domains_key_adds_hosts_and_is_checked() -> None:
    (src,) = parse_sources(
        "sources:\n  - name: paper\n    feeds: [https://www.paper.example/rss]\n"
        "    domains: [Paper-CDN.example, www.paper.info]\n"
    )
    assert src.hosts() == {"paper.example", "paper-cdn.example", "paper.info"}
    with pytest.raises(SourcesError, match="domains"):
        parse_sources(
            "sources:\n  - name: paper\n    feeds: [https://paper.example/rss]\n"
            "    domains: ['https://paper.example/']\n"
        )
