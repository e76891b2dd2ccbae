"""The fetch state store's pending set: validators and the URLs they hide, saved together."""

from __future__ import annotations

from pathlib import Path

import pytest

from marsad.record import FeedItem
from marsad.state import StateStore

FEED = "https://a.example/rss"


def test_validators_and_pending_urls_are_saved_together(tmp_path: Path) -> None:
    items = [FeedItem(f"https://a.example/{i}", "a", f"t{i}") for i in range(3)]
    with StateStore(tmp_path / "s.sqlite") as st:
        st.record_discovery(FEED, items, ('"v1"', None, b"body"))
        st.record_discovery("https://b.example/rss", [FeedItem("https://b.example/1", "b")], None)
        assert st.validators(FEED) is not None and st.validators(FEED).etag == '"v1"'  # type: ignore[union-attr]
        assert st.pending({"a"}) == items  # in the order found, other sources left out
        st.settle([items[0].url, "https://never.example/"])
        assert [i.url for i in st.pending({"a", "b"})] == [
            items[1].url,
            items[2].url,
            "https://b.example/1",
        ]
        # found again: one pending row, in its first place
        st.record_discovery(FEED, items[1:2], ('"v1"', None, b"body"))
        assert len(st.pending({"a"})) == 2


def test_a_failure_inside_the_transaction_saves_neither(tmp_path: Path) -> None:
    """If the URLs cannot be made pending, the validators must not be saved either: they
    would answer 304 next time and hide the URLs for good."""

    class Unwritable:
        def isoformat(self) -> str:
            raise RuntimeError("disk says no")

    bad = FeedItem("https://a.example/1", "a", None, Unwritable())  # type: ignore[arg-type]
    with StateStore(tmp_path / "s.sqlite") as st:
        with pytest.raises(RuntimeError, match="disk says no"):
            st.record_discovery(FEED, [bad], ('"v1"', None, b"body"))
        assert st.validators(FEED) is None
        assert st.pending({"a"}) == []
        st.record_discovery(FEED, [], ('"v1"', None, b"body"))  # the store still works
        assert st.validators(FEED) is not None
