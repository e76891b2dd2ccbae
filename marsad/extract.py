"""Extract stage: boilerplate removal and metadata with trafilatura, language with py3langid.

Extraction is a short fallback chain (docs/benchmarks.md has the figures behind it): the
precision-favouring pass first; when its text is short, the default pass too, keeping the
longer text. Dates come from the page's structured metadata, else a date in the URL, else
(after the feed's date, see apply_extraction) htmldate's extensive guess; none may lie in
the future.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import py3langid
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document
from trafilatura.utils import load_html

from marsad.record import Article, Failure
from marsad.urls import article_id_for, canonicalise, same_site

# Lines that survive extraction on news sites but are page furniture: share prompts, image
# placeholders, bare counters and timestamps.
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
# Lead-ins of related-article teasers, photo credits and sign-up prompts: a line that starts
# with one of these (case ignored) is dropped whole. Data, not code: found in the tuning half
# of trafilatura-eval and on Arabic news sites; extend the list, not the logic.
LEAD_INS = (
    # Arabic
    "اقرأ أيضا",
    "اقرأ أيضاً",
    "اقرأ ايضا",
    "إقرأ أيضا",
    "اقرأ المزيد",
    "طالع أيضا",
    "شاهد أيضا",
    "شاهد أيضاً",
    "مواضيع ذات صلة",
    "أخبار ذات صلة",
    "تابعونا على",
    "تابعوا آخر",
    "جميع الحقوق محفوظة",
    "حقوق النشر",
    # English, French, Spanish, Polish, German
    "read more:",
    "read more ",
    "see also:",
    "related:",
    "sign up",
    "subscribe to",
    "à lire aussi",
    "lire aussi",
    "crédits photo",
    "crédit photo",
    "lea también",
    "vea también",
    "le puede interesar",
    "mira:",
    "mire:",
    "czytaj też",
    "zobacz też",
    "lesen sie auch",
    "auch lesen:",
    "auch interessant",
    "zum weiterlesen",
    "mehr zum thema",
    "das thema könnte dich auch interessieren",
    "zum newsletter",
    "bild anzeigen",
    "beitragsbild:",
    "titelbild:",
    "copyright:",
    "©",
)
_LEAD_IN_RE = re.compile("|".join(re.escape(w) for w in LEAD_INS), re.I)
MIN_TEXT_CHARS = 40
LANGID_CHARS = 2000
# Below this many characters the precision pass may have cut the article: run the default
# pass as well and keep the longer text (tuned on the tuning half, see docs/benchmarks.md).
FALLBACK_BELOW_CHARS = 1500
# Dates later than this past "now" are refused (clock skew between publisher and us).
FUTURE_SLACK = timedelta(days=1)
# Any: the keyword arguments of untyped-to-us library calls (trafilatura, htmldate).
_OPTIONS: dict[str, Any] = {"include_comments": False, "include_tables": True}
_DATE_PARAMS: dict[str, Any] = {
    "extensive_search": False,  # guessed dates lose to the feed date: see guess_date
    "original_date": True,
    "deferred_url_extractor": True,  # the page's own date (with its time) before the URL's
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    # htmldate refuses a date after its max_date (by default today) and then reads the same
    # string again for a year and month, so a page dated later this month came out as the 1st
    # of the month (seen on 1 December with a page dated the 31st). Let any date through and
    # let `plausible` (today + FUTURE_SLACK) refuse the future whole.
    "max_date": "2099-12-31",
}
# /2020/08/24/, /2020-06-03-, _20200317 at the start of a path segment (y, m, d).
_URL_DATE_RE = re.compile(
    r"/((?:19|20)\d\d)[/_-](0?[1-9]|1[0-2])[/_-](0?[1-9]|[12]\d|3[01])(?:[/_.-]|$)"
    r"|/((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])"
)


class ExtractError(Exception):
    """The page has no article to give; the only error `extract_html` lets out."""


@dataclass(slots=True)
class Extracted:
    url: str | None
    title: str | None
    author: str | None
    published_at: datetime | None
    language: str | None
    text: str
    # Where published_at came from: "page" (structured metadata), "url", "guess"
    # (htmldate's extensive search: loses to a feed date) or None.
    date_source: str | None = None


def clean_text(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()]
    return "\n".join(
        ln for ln in lines if ln and not BOILERPLATE_LINES.match(ln) and not _LEAD_IN_RE.match(ln)
    )


_BYLINE_RE = re.compile(
    r"^\s*(?:بقلم|كتب|كتبت|كتبه|بواسطة|إعداد|اعداد|تحرير|تقرير|by)\b\s*[:：-]?\s*", re.I
)


def clean_author(author: str | None) -> str | None:
    """The name without an Arabic or English byline word (بقلم، كتب، By) in front."""
    name = _BYLINE_RE.sub("", author or "").strip()
    return name or None


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


def plausible(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """The date, unless it lies in the future (a template's, an event's or a typo)."""
    if dt is None:
        return None
    return None if dt > (now or datetime.now(UTC)) + FUTURE_SLACK else dt


def date_from_url(url: str | None) -> datetime | None:
    """A full year-month-day in the URL path (news CMSs put the publication day there)."""
    if not url:
        return None
    m = _URL_DATE_RE.search(url.split("?", 1)[0])
    if not m:
        return None
    y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        return datetime(y, mo, d, tzinfo=UTC)
    except ValueError:
        return None


def guess_date(html: str, url: str | None, now: datetime | None = None) -> datetime | None:
    """htmldate's extensive search, never past today: the last resort, after the feed."""
    now = now or datetime.now(UTC)
    try:
        found = find_date(
            html,
            url=url,
            extensive_search=True,
            original_date=True,
            max_date=(now + FUTURE_SLACK).strftime("%Y-%m-%d"),
        )
    except Exception:  # a date guess must never cost the article
        return None
    return plausible(parse_date(found), now)


def detect_language(text: str) -> str | None:
    """py3langid on the first 2,000 characters: as sure as on 5,000, at a third of the cost."""
    if not text.strip():
        return None
    lang, _score = py3langid.classify(text[:LANGID_CHARS])
    return str(lang)


def page_metadata(tree: HtmlElement, url: str | None) -> Document:
    """trafilatura's `extract_metadata`, step for step, without what marsad does not keep.

    Site name, categories, tags and licence cost ~7 ms a page (a sixth of extraction) and
    have no column; title, author, canonical URL and date come out exactly as before.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # trafilatura's own rule
        meta.author = None
    with suppress(Exception):  # trafilatura guards its JSON-LD parser the same way
        meta = extract_meta_json(tree, meta)
    meta.title = meta.title or extract_title(tree)
    meta.author = meta.author or extract_author(tree)
    meta.url = meta.url or extract_url(tree, url)
    meta.date = find_date(tree, url=meta.url, **_DATE_PARAMS)
    meta.clean_and_trim()
    return meta


def _extract(tree: HtmlElement, url: str | None, precision: bool) -> Document | None:
    doc = bare_extraction(
        tree,
        url=url,
        fast=precision,  # first pass skips trafilatura's own fallbacks: ours is the second pass
        favor_precision=precision,
        with_metadata=False,
        **_OPTIONS,
    )
    return doc if isinstance(doc, Document) else None


def extract_text(html: str, url: str | None = None) -> tuple[Document, str]:
    """The fallback chain on one parse: (metadata, cleaned text); ExtractError if no text."""
    tree = load_html(html)
    if tree is None:
        raise ExtractError("not parseable as HTML")
    meta = page_metadata(tree, url)
    url = url or meta.url
    doc = _extract(tree, url, precision=True)
    text = clean_text(doc.text) if doc is not None and doc.text else ""
    if len(text) < FALLBACK_BELOW_CHARS:
        second = _extract(tree, url, precision=False)
        text2 = clean_text(second.text) if second is not None and second.text else ""
        if len(text2) > len(text):
            text = text2
    if not text:
        raise ExtractError("no main text found")
    return meta, text


def extract_html(html: str, url: str | None = None, feed_date: datetime | None = None) -> Extracted:
    """Text and metadata of one page; with a (plausible) feed date, no date is guessed: the
    feed's wins over a guess anyway (apply_extraction), and guessing costs ~30 ms a page.

    Raises only ExtractError: a library's surprise on hostile markup is this page's failure."""
    try:
        return _extract_html(html, url, feed_date)
    except ExtractError:
        raise
    except Exception as exc:
        raise ExtractError(f"{type(exc).__name__} in extraction: {exc}") from exc


def _extract_html(html: str, url: str | None, feed_date: datetime | None) -> Extracted:
    meta, text = extract_text(html, url)
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractError(f"main text too short ({len(text)} chars)")
    title = meta.title.strip() if meta.title else None
    page_url = meta.url or url
    from_url = plausible(date_from_url(url) or date_from_url(page_url))
    published = plausible(parse_date(meta.date))
    # htmldate falls back on the URL itself; name the source for what it is.
    source = "url" if published is not None and published == from_url else "page"
    if published is None:
        published, source = from_url, "url"
    if published is None and plausible(feed_date) is None:
        published, source = guess_date(html, url), "guess"
    return Extracted(
        url=meta.url,
        title=title,
        author=clean_author(meta.author),
        published_at=published,
        language=detect_language(text),
        text=text,
        date_source=source if published else None,
    )


def _own_site(page_url: str, fetched: str) -> bool:
    """Whether the page's own URL is on the fetched URL's site; one that does not parse
    (`http://[::1/`) is not, so a hostile canonical link costs nothing."""
    try:
        return same_site(page_url, fetched)
    except ValueError:
        return False


def apply_extraction(art: Article, ex: Extracted) -> Article:
    fetched = art.final_url or art.url
    # A page's own canonical link wins, but only on its own site: a hostile page
    # must not be able to claim another site's article_id.
    canon = ex.url if ex.url and _own_site(ex.url, fetched) else fetched
    art.canonical_url = canonicalise(canon)
    art.article_id = article_id_for(art.canonical_url)
    art.title = ex.title or (art.feed.feed_title if art.feed else None)
    art.author = ex.author
    feed_date = plausible(art.feed.feed_published_at) if art.feed else None
    # The page's own date wins; a feed date beats a guess from page furniture.
    if ex.date_source in ("page", "url") or feed_date is None:
        art.published_at = ex.published_at or feed_date
    else:
        art.published_at = feed_date
    art.language = ex.language
    art.text = ex.text
    art.html = None  # the batch no longer needs the page
    return art


def failure_reason(exc: BaseException) -> str:
    """A typed error's own message; for anything else the type's name first, so a row says
    "ValueError: ..." rather than a bare message or an empty string."""
    if isinstance(exc, ExtractError):
        return str(exc) or "ExtractError"
    name = type(exc).__name__
    return f"{name}: {exc}" if str(exc) else name


def extract_articles(
    articles: Iterable[Article],
) -> tuple[list[Article], list[Failure]]:
    """Each article extracted or one failure row (stage "extract"); the batch always goes on."""
    done: list[Article] = []
    failures: list[Failure] = []
    for art in articles:
        try:
            feed_date = art.feed.feed_published_at if art.feed else None
            ex = extract_html(art.html or "", art.final_url or art.url, feed_date)
            done.append(apply_extraction(art, ex))
        except Exception as exc:  # a broken page must cost one row, never the batch
            failures.append(
                Failure(
                    art.url,
                    art.source,
                    "extract",
                    failure_reason(exc),
                    art.attempts,
                    art.run_id,
                    datetime.now(UTC),
                )
            )
    return done, failures
