"""Entity stage: tag people, places, organisations and other names, with offsets into `text`.

The tagger works on tokens of the original text; spans come back as character
offsets into `Article.text`, so `text[start:end] == entity.text` always holds.
The taggers live in `marsad.ner` (`backends` chooses one); mentions are then linked to the
watchlist (`marsad.linking`), which also adds the watchlist names the tagger missed, and each
gets a display `name` (`name_entities`) and, for a person, the `title` said before the name
(`add_titles`); LOC mentions get a country and coordinates (`marsad.places`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from marsad.linking import Linker, load_linker
from marsad.ner.backends import Tagger, tag_docs, tagger_for
from marsad.ner.conll import spans
from marsad.ner.spans import display_labels, title_clitic_chars, title_span, title_start
from marsad.places import resolve_places
from marsad.record import Article, Entity, Failure
from marsad.settings import Settings
from marsad.text.arabic import WORD_MARKS, Token, fold_token, normalise, sentences, tokenize
from marsad.text.clitics import CONJUNCTIONS, proclitic_chars

LABELS = ("PERS", "LOC", "ORG", "MISC")
_LEADING_MARKS = re.compile(f"[{WORD_MARKS}]*")


def surface_name(surface: str) -> str:
    """A mention's surface as a name, diacritics and spelling kept.

    The mention already starts after a conjunction or preposition (`proclitic_chars`: والسعودية
    is السعودية, بغداد stays whole); what is left is ل + the article, whose alef Arabic drops
    (للعراق, وللعراق): the name is written with it again (العراق)."""
    name = surface.strip()
    folded = fold_token(name.split(maxsplit=1)[0]) if name else ""
    skip = 1 if folded[:1] in CONJUNCTIONS and folded[1:3] == "لل" else 0
    if folded[skip : skip + 2] != "لل" or len(folded) - skip < 4:
        return name
    i = 0
    for _ in range(skip + 1):  # past the conjunction and the first ل, with their marks
        m = _LEADING_MARKS.match(name, i + 1)
        i = m.end() if m else i + 1
    return "ا" + name[i:]


def name_entities(entities: list[Entity], linker: Linker | None = None) -> list[Entity]:
    """Give each mention its display `name` (and `name_en` when linked), in place."""
    names = linker.names if linker is not None else {}
    for e in entities:
        linked = names.get(e.entity_id) if e.entity_id else None
        e.name, e.name_en = linked if linked else (surface_name(e.text), None)
    return entities


def spans_from_bio(tokens: Sequence[Token], labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """BIO labels to (start, end, label) character spans, by conlleval's rules (`ner.conll`)."""
    return [
        (tokens[a].start, tokens[b - 1].end, kind)
        for a, b, kind in sorted(spans(labels))
        if kind in LABELS
    ]


def add_titles(
    text: str,
    sents: Sequence[Sequence[Token]],
    labels: Sequence[Sequence[str]],
    ents: list[Entity],
    level: str = "aggressive",
) -> list[Entity]:
    """Give each PERS mention its `title`, in place: the titles and offices just before it in
    its sentence, as written. The shown spans leave them out; a reader still wants them.

    A mention that itself begins with titles (a watchlist alias such as الملك عبد الله الثاني
    or ولي العهد السعودي الأمير محمد بن سلمان) is cut to the name as the tagger's spans are,
    and its title words join the title."""
    firsts = [s[0].start if s else -1 for s in sents]
    for e in ents:
        k = bisect_right(firsts, e.start) - 1
        if e.label != "PERS" or k < 0:
            continue
        sent = sents[k]
        starts = [t.start for t in sent]
        words = [t.text for t in sent]
        i = bisect_right(starts, e.start) - 1  # the mention's first token
        cut = title_span(words, i, bisect_left(starts, e.end))
        begin = e.start
        if cut:
            e.start = sent[i + cut].start
            e.text = text[e.start : e.end]
            e.norm = normalise(e.text, level).text
        first = title_start(words, labels[k], i) if i > 0 else i
        if first < i:
            begin = sent[first].start + title_clitic_chars(sent[first].text)
        elif not cut:
            continue
        e.title = text[begin : sent[i + cut - 1].end]
    return ents


# Text tagged in one pass of the models (about 22k tokens): bounds the packed arrays of a pass
# (the network's gate inputs and states, ~6 kB a token it reads) whatever the batch size.
CHUNK_CHARS = 120_000


@dataclass(frozen=True)
class Parsed:
    """An article's text as the tagger sees it: tokens with offsets, split into sentences."""

    text: str
    sents: list[list[Token]]
    words: list[list[str]]


def parse(text: str) -> Parsed:
    sents = sentences(tokenize(text), text)
    return Parsed(text, sents, [[t.text for t in s] for s in sents])


def find_entities(
    text: str, tagger: Tagger, level: str = "aggressive", linker: Linker | None = None
) -> list[Entity]:
    """The tagger's mentions, linked to and completed from the watchlist when given a linker."""
    doc = parse(text)
    return entities_of(doc, tag_docs(tagger, [doc.words])[0], tagger, level, linker)


def entities_of(
    doc: Parsed,
    tags: Sequence[Sequence[str]],
    tagger: Tagger,
    level: str = "aggressive",
    linker: Linker | None = None,
) -> list[Entity]:
    """Mentions from the tagger's labels of `doc`: shown spans, linking, names, titles, places."""
    text, sents = doc.text, doc.sents
    # Shown spans follow the analyst's conventions, not only ANERcorp's (marsad/ner/spans.py).
    labels = [display_labels(w, labs) for w, labs in zip(doc.words, tags, strict=True)]
    featurizer = getattr(tagger, "featurizer", None)
    rank = featurizer.res.rank if featurizer is not None else None
    out: list[Entity] = []
    for sent, labs in zip(sents, labels, strict=True):
        found = spans_from_bio(sent, labs)
        if not found:  # most sentences
            continue
        firsts = {t.start: t.text for t in sent}
        for start, end, label in found:
            start += proclitic_chars(firsts[start], rank)
            surface = text[start:end]
            out.append(Entity(surface, normalise(surface, level).text, label, start, end))
    linked = linker.link(text, out, level) if linker is not None else out
    ents = name_entities(add_titles(text, sents, labels, linked, level), linker)
    return resolve_places(ents, linker.entries if linker is not None else None)


def chunks(articles: Iterable[Article], chars: int = CHUNK_CHARS) -> Iterator[list[Article]]:
    """Consecutive articles of about `chars` of text each (at least one), read lazily."""
    chunk: list[Article] = []
    size = 0
    for art in articles:
        chunk.append(art)
        size += len(art.text or "")
        if size >= chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def tag_articles(
    articles: Iterable[Article],
    tagger: Tagger | None = None,
    level: str = "aggressive",
    settings: Settings | None = None,
    linker: Linker | None = None,
) -> tuple[list[Article], list[Failure]]:
    """Tag and link a batch; the tagger and the watchlist come from settings unless given.

    The articles of a chunk are tagged in one pass (`Tagger.tag_docs`); if that pass fails,
    they are tagged one by one, so only an article that fails alone becomes a failure."""
    settings = settings or Settings()
    tagger = tagger or tagger_for(settings.ner_backend, settings.ner_neural)
    linker = linker or load_linker(settings.watchlist)
    done: list[Article] = []
    failures: list[Failure] = []
    for chunk in chunks(articles):
        docs: list[tuple[Article, Parsed]] = []
        for art in chunk:
            try:
                docs.append((art, parse(art.text or "")))
            except Exception as exc:  # one bad article must not sink the batch
                failures.append(_failure(art, exc))
        try:
            tags: list[list[list[str]]] | None = tag_docs(tagger, [d.words for _, d in docs])
        except Exception:
            tags = None
        for k, (art, doc) in enumerate(docs):
            try:
                mine = tags[k] if tags is not None else tag_docs(tagger, [doc.words])[0]
                art.entities = entities_of(doc, mine, tagger, level, linker)
            except Exception as exc:
                failures.append(_failure(art, exc))
                continue
            done.append(art)
    return done, failures


def _failure(art: Article, exc: Exception) -> Failure:
    return Failure(
        art.url,
        art.source,
        "tag",
        f"{type(exc).__name__}: {exc}",
        art.attempts,
        art.run_id,
        datetime.now(UTC),
    )
