"""Reading and writing the shipped lookup files (clusters, gazetteer, triggers).

Kept apart from training so that runtime loading needs no shared data and no heavy imports.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from marsad.ner.features import Resources

DATA_DIR = Path(__file__).parent / "data"
MODEL_FILE = "ner.crfsuite"
CLUSTER_FILE = "clusters.tsv.gz"
GAZETTEER_FILE = "gazetteer.tsv.gz"


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A path to write `path`'s new content to, renamed over `path` when the block ends well:
    a training stopped while it writes (Ctrl-C, kill, a full disk) leaves the old model file
    whole, never half a new one. The partial file is removed on an error, and overwritten by
    the next run after a kill."""
    tmp = path.with_name(path.name + ".partial")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # on disk before the name points at it
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_clusters(path: Path, clusters: Mapping[str, Sequence[str]]) -> None:
    """One `word<TAB>id<TAB>id...` line per word, coarse to fine, most frequent word first
    (the line number is the frequency rank); gzip for size."""
    with replacing(path) as tmp, gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as out:
        for word in clusters:
            out.write(word + "\t" + "\t".join(clusters[word]) + "\n")


def write_gazetteer(
    path: Path,
    tokens: Mapping[str, Sequence[str]],
    phrases: Mapping[str, str],
    triggers: Mapping[str, str],
) -> None:
    """Lines `kind<TAB>entry<TAB>value` with kind t (token flags), p (phrase type), g (trigger)."""
    with replacing(path) as tmp, gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as out:
        for word in sorted(tokens):
            out.write(f"t\t{word}\t{','.join(sorted(tokens[word]))}\n")
        for phrase in sorted(phrases):
            out.write(f"p\t{phrase}\t{phrases[phrase]}\n")
        for word in sorted(triggers):
            out.write(f"g\t{word}\t{triggers[word]}\n")


def load_resources(data_dir: Path = DATA_DIR) -> Resources:
    """Load clusters and gazetteers into a `Resources`; missing files give empty lookups."""
    res = Resources()
    cpath = data_dir / CLUSTER_FILE
    if cpath.exists():
        with gzip.open(cpath, "rt", encoding="utf-8") as handle:
            for line in handle:
                word, *ids = line.rstrip("\n").split("\t")
                res.rank[word] = len(res.clusters)
                res.clusters[word] = tuple(ids)
    gpath = data_dir / GAZETTEER_FILE
    if gpath.exists():
        read_gazetteer(gpath, res)
    return res


def read_gazetteer(path: Path, res: Resources) -> None:
    """Add one gazetteer-format file's token flags, phrases and triggers to `res`."""
    prefixes: set[str] = set(res.phrase_prefixes)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            kind, entry, value = line.rstrip("\n").split("\t")
            if kind == "t":
                res.gaz_tokens[entry] = tuple(value.split(","))
            elif kind == "p":
                res.gaz_phrases[entry] = value
                words = entry.split(" ")
                res.max_phrase = max(res.max_phrase, len(words))
                for k in range(1, len(words) + 1):
                    prefixes.add(" ".join(words[:k]))
            else:
                res.triggers[entry] = value
    res.phrase_prefixes = frozenset(prefixes)
