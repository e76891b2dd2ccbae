"""The labelled story set (bench/story_labels.json) read back from the SaudiNewsNet corpus.

The corpus is CC BY-NC-SA and stays outside the repository: the labels hold URLs only, and
this module finds the articles in the corpus zips and runs them through marsad's own stages
(normalise, tag and link, near-duplicate groups) into StoryDocs.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from marsad.dedup import DayDupIndex
from marsad.entities import tag_articles
from marsad.record import Article
from marsad.story_match import StoryDoc
from marsad.text.arabic import normalise_articles
from marsad.urls import article_id_for

LABELS = Path(__file__).resolve().parent / "story_labels.json"
DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "corpus"
    / "saudinewsnet-articles"
)


@dataclass(frozen=True, slots=True)
class Item:
    doc: StoryDoc
    story: str  # the label; a distractor or hard negative is its own story
    day: str  # the corpus file (crawl day): one pipeline run each


def labels(path: Path = LABELS, first_pass: bool = False) -> dict[str, str]:
    """URL -> story label for every labelled article, distractors included.

    `first_pass`: the set as the title-based proposals made it (docs/stories.md), without the
    stories of the second, lead-based pass; a distractor moved into one of them is one again."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for story in data["stories"]:
        for a in story["articles"]:
            if not first_pass or story.get("pass", 1) == 1:
                out[a["url"]] = story["story"]
            elif a.get("first_pass") == "distractor":
                out[a["url"]] = f"single:{a['url']}"
    for kind in ("hard_negatives", "distractors"):
        out.update({a["url"]: f"single:{a['url']}" for a in data[kind]})
    return out


def read_corpus(corpus: Path, wanted: set[str]) -> list[tuple[str, dict[str, str]]]:
    """(crawl day, corpus record) for each wanted URL, in corpus order."""
    if not corpus.is_dir():
        raise SystemExit(f"corpus not found at {corpus} (pass --corpus)")
    found = []
    for z in sorted(corpus.glob("*.zip")):
        with zipfile.ZipFile(z) as f:
            for name in f.namelist():
                for rec in json.loads(f.read(name)):
                    if rec["url"] in wanted:
                        found.append((z.stem, rec))
    missing = wanted - {rec["url"] for _, rec in found}
    if missing:
        raise SystemExit(f"{len(missing)} labelled URLs not in the corpus, e.g. {min(missing)}")
    return found


def _article(rec: dict[str, str]) -> Article:
    when = datetime.strptime(rec["date_extracted"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    art = Article(rec["url"], rec["source"], when, title=rec["title"], text=rec["content"])
    art.article_id = article_id_for(rec["url"])
    art.language = "ar"
    art.published_at = when  # the corpus gives the crawl time only
    return art


def entity_keys(art: Article) -> tuple[str, ...]:
    """As part B's writer keys them: the watchlist id when linked, else label and norm."""
    return tuple(sorted({e.entity_id or f"{e.label}:{e.norm}" for e in art.entities}))


def items(corpus: Path, label_path: Path = LABELS, first_pass: bool = False) -> list[Item]:
    """The labelled articles as StoryDocs, through marsad's normalise, tag and dedup stages."""
    truth = labels(label_path, first_pass)
    records = read_corpus(corpus, set(truth))
    arts = [_article(rec) for _, rec in records]
    normalised = normalise_articles(arts)
    tagged, failures = tag_articles(normalised)
    if failures or len(tagged) != len(arts):
        raise SystemExit(f"pipeline stages dropped articles: {failures[:3]}")
    dups = DayDupIndex()
    out = []
    order = sorted(zip(records, tagged, strict=True), key=lambda p: (p[1].fetched_at, p[1].url))
    for (day, rec), art in order:
        aid = art.article_id or ""
        art.dup_group = dups.assign(aid, art.fetched_at.date(), art.title, art.text)
        doc = StoryDoc(
            aid,
            art.fetched_at,
            art.source,
            art.title,
            art.text_norm,
            entity_keys(art),
            art.dup_group,
        )
        out.append(Item(doc, truth[rec["url"]], day))
    return out
