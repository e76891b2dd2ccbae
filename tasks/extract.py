"""Extract stage: boilerplate removal and metadata with trafilatura, language with py3langid."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import py3langid
from courlan import normalize_url
from trafilatura import bare_extraction

from marsad.record import Article, Failure, article_id_for

# Lines that survive extraction on Arabic news sites but are page furniture:
# share prompts, image placeholders, bare counters and timestamps.
BOILERPLATE_LINES = re.compile(
    r"""^\s*(?:
        (?:مشاركة|شارك|شارك\ المقال|اطبع|طباعة|تابعونا|اقرأ\ أيضاً?|share|print)
        \s*[:：]?\s*
      | news-picture
      | [\d٠-٩]{1,6}
      | [\d٠-٩]{1,2}[/.-][\d٠-٩]{1,2}[/.-][\d٠-٩]{2,4}
      | [\d٠-٩]{1,2}:[\d٠-٩]{2}(?:\s*[AaPp][Mm])?
    )\s*$""",
    re.X,
)
MIN_TEXT_CHARS = 40


class ExtractError(Exception):
    pass


@dataclass(slots=True)
class Extracted:
    url: str | None
    title: str | None
    author: str | None
    published_at: datetime | None
    language: str | None
    text: str


def clean_text(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()]
    return "\n".join(ln for ln in lines if ln and not BOILERPLATE_LINES.match(ln))


def parse_date(value: str | None) -> datetime | None:
    """trafilatura gives ISO dates; keep a time when there is one, always in UTC."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = datetime.combine(date.fromisoformat(value[:10]), time())
        except ValueError:
            return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def detect_language(text: str) -> str | None:
    if not text.strip():
        return None
    lang, _score = py3langid.classify(text[:5000])
    return lang


def extract_html(html: str, url: str | None = None) -> Extracted:
    doc = bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params={
            "extensive_search": False,  # guessed dates lose to the feed date
            "original_date": True,
            "outputformat": "%Y-%m-%dT%H:%M:%S%z",
        },
    )
    if doc is None or not doc.text:
        raise ExtractError("no main text found")
    text = clean_text(doc.text)
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractError(f"main text too short ({len(text)} chars)")
    title = doc.title.strip() if doc.title else None
    return Extracted(
        url=doc.url,
        title=title,
        author=doc.author or None,
        published_at=parse_date(doc.date),
        language=detect_language(text),
        text=text,
    )


def canonicalise(url: str) -> str:
    """courlan's normalisation: lower-case host, tracking parameters and fragment gone."""
    try:
        return normalize_url(url, strict=True)
    except (ValueError, TypeError):
        return url


def _same_site(a: str, b: str) -> bool:
    from urllib.parse import urlsplit

    ha, hb = urlsplit(a).hostname or "", urlsplit(b).hostname or ""
    return ha.removeprefix("www.") == hb.removeprefix("www.")


def apply_extraction(art: Article, ex: Extracted) -> Article:
    fetched = art.final_url or art.url
    # A page's own canonical link wins, but only on its own site: a hostile page
    # must not be able to claim another site's article_id.
    canon = ex.url if ex.url and _same_site(ex.url, fetched) else fetched
    art.canonical_url = canonicalise(canon)
    art.article_id = article_id_for(art.canonical_url)
    art.title = ex.title or (art.feed.feed_title if art.feed else None)
    art.author = ex.author
    art.published_at = ex.published_at or (art.feed.feed_published_at if art.feed else None)
    art.language = ex.language
    art.text = ex.text
    art.html = None  # the batch no longer needs the page
    return art


def extract_articles(
    articles: Iterable[Article],
) -> tuple[list[Article], list[Failure]]:
    done: list[Article] = []
    failures: list[Failure] = []
    for art in articles:
        try:
            ex = extract_html(art.html or "", art.final_url or art.url)
        except Exception as exc:  # a broken page must cost one row, never the batch
            reason = str(exc) if isinstance(exc, ExtractError) else f"{type(exc).__name__}: {exc}"
            failures.append(
                Failure(
                    art.url,
                    art.source,
                    "extract",
                    reason,
                    art.attempts,
                    art.run_id,
                    datetime.now(UTC),
                )
            )
            continue
        done.append(apply_extraction(art, ex))
    return done, failures


# --- Prefect wrapper ------------------------------------------------------------------------

from prefect import task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(articles: list[Article]) -> tuple[list[Article], list[Failure]]:
    return extract_articles(articles)
