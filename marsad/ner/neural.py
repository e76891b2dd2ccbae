"""A character-aware BiLSTM tagger (torch, CPU) whose label probabilities are mixed with the CRF's.

Per token: a frozen word2vec vector (trained on SaudiNewsNet) of the word and of its
clitic-stripped stem, a char-CNN over the normalised word, and small embeddings of the CRF's
own discrete evidence (word clusters, gazetteer flags, trigger class, shape, gazetteer phrase
tag). Everything but the phrase tag depends on the word type alone, so at run time the token
vector is computed once per type and cached; only the BiLSTM runs per sentence.

torch is imported by this module: import it only when the neural part is wanted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from marsad.ner.decode import LABELS
from marsad.ner.features import Featurizer, opens_phrase, shape
from marsad.ner.recurrence import GateLSTM
from marsad.ner.resources import replacing

NEURAL_FILE = "ner-neural.pt"
MAX_CHARS = 20
OPENS_CACHE = 300_000  # words whose "a phrase can start here" flag is kept (reset when full)
SHAPES = ("ar", "arnum", "lat", "latlow", "num", "punct")
TRIGGER_KINDS = ("title", "orghead", "lochead")
PHRASES = ("B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PERS", "I-PERS")
CLUSTER_SIZES = (64, 256, 1024)


@dataclass
class NeuralConfig:
    """Architecture and training knobs; chosen on the dev split (docs/ner.md)."""

    char_dim: int = 32
    char_filters: int = 64
    cluster_dims: tuple[int, int, int] = (8, 16, 16)
    extra_dim: int = 16
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.5
    word_dropout: float = 0.05
    lr: float = 1e-3
    batch: int = 16
    epochs: int = 16  # the best dev epoch; full training runs exactly this many
    patience: int = 8  # dev mode: stop after this many epochs without a better dev F1
    top_words: int = 50_000
    ema: float = 0.998  # weight averaging: evaluate and ship the moving average


@dataclass
class Vocab:
    """String-to-id tables; id 0 is padding, 1 unknown."""

    words: list[str]
    chars: list[str]
    gaz_flags: list[str]

    def __post_init__(self) -> None:
        self.word_id = {w: i for i, w in enumerate(self.words)}
        self.char_id = {c: i for i, c in enumerate(self.chars)}
        self.gaz_id = {g: i for i, g in enumerate(self.gaz_flags)}


class TypeFeatures:
    """Integer features of one word type, from the same resources the CRF reads."""

    def __init__(self, featurizer: Featurizer, vocab: Vocab) -> None:
        self.res = featurizer.res
        self.featurizer = featurizer
        self.vocab = vocab
        self._opens: dict[str, bool] = {}  # word -> whether a gazetteer phrase can start at it

    def __call__(self, token: str) -> tuple[int, int, list[int], list[int], list[int], int, int]:
        """(word, stem, chars, clusters, gazetteer flag ids, trigger, shape)."""
        res, vocab = self.res, self.vocab
        n, stem = self.featurizer.type_feats(token)[5]  # cached, and the CRF's fold and split
        wid = vocab.word_id.get(n, 1)
        sid = vocab.word_id.get(stem, 1)
        chars = [vocab.char_id.get(c, 1) for c in n[:MAX_CHARS]] or [1]
        cl = res.clusters.get(n) or res.clusters.get(stem)
        clusters = [int(c) + 1 for c in cl] if cl else [0, 0, 0]
        flags = set(res.gaz_tokens.get(n, ()))
        flags.update("s" + g for g in res.gaz_tokens.get(stem, ()) if stem != n)
        gaz = [vocab.gaz_id[g] for g in sorted(flags) if g in vocab.gaz_id]
        trig = res.triggers.get(n) or res.triggers.get(stem)
        tid = TRIGGER_KINDS.index(trig) + 1 if trig in TRIGGER_KINDS else 0
        return wid, sid, chars, clusters, gaz, tid, SHAPES.index(shape(token)) + 1

    def phrases(self, tokens: Sequence[str]) -> list[int]:
        """Gazetteer phrase tag per token (0 = none), as the CRF's `ph=` feature sees it."""
        opens = self._opens
        for t in tokens:
            o = opens.get(t)
            if o is None:
                if len(opens) >= OPENS_CACHE:
                    opens.clear()
                o = opens[t] = opens_phrase(self.featurizer.type_feats(t)[5], self.res)
            if o:
                break
        else:  # no phrase can start here (most sentences): no phrase tags
            return [0] * len(tokens)
        forms = [self.featurizer.type_feats(t)[5] for t in tokens]  # cached [word, stem]
        tags = self.featurizer.phrase_tags([f[0] for f in forms], [f[1] for f in forms])
        return [PHRASES.index(t) + 1 if t in PHRASES else 0 for t in tags]


class NeuralTagger(nn.Module):
    """Type encoder (embeddings + char-CNN) -> BiLSTM -> per-token label logits."""

    def __init__(self, cfg: NeuralConfig, vocab: Vocab, vectors: torch.Tensor) -> None:
        super().__init__()
        self.cfg = cfg
        self.words = nn.Embedding.from_pretrained(  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            vectors, freeze=True, padding_idx=0
        )
        self.chars = nn.Embedding(len(vocab.chars), cfg.char_dim, padding_idx=0)
        self.conv = nn.Conv1d(cfg.char_dim, cfg.char_filters, kernel_size=3, padding=1)
        self.clusters = nn.ModuleList(
            nn.Embedding(k + 1, d, padding_idx=0)
            for k, d in zip(CLUSTER_SIZES, cfg.cluster_dims, strict=True)
        )
        self.gaz = nn.EmbeddingBag(len(vocab.gaz_flags) + 1, cfg.extra_dim, mode="sum")
        self.trig = nn.Embedding(len(TRIGGER_KINDS) + 1, 8)
        self.shape = nn.Embedding(len(SHAPES) + 1, 4)
        self.phrase = nn.Embedding(len(PHRASES) + 1, 8)
        dim = 2 * vectors.shape[1] + cfg.char_filters + sum(cfg.cluster_dims)
        self.type_dim = dim + cfg.extra_dim + 8 + 4
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(
            self.type_dim + 8,
            cfg.hidden,
            num_layers=cfg.layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.out = nn.Linear(2 * cfg.hidden, len(LABELS))

    def encode_types(self, feats: Sequence[tuple[Any, ...]]) -> torch.Tensor:
        """One vector per word type (rows follow `feats`)."""
        words = torch.tensor([f[0] for f in feats])
        stems = torch.tensor([f[1] for f in feats])
        lens = torch.tensor([len(f[2]) for f in feats])
        chars = torch.zeros(len(feats), int(lens.max()), dtype=torch.long)
        # row-major fill of each row's first len places: padded with 0 at the right
        chars[torch.arange(chars.shape[1]) < lens[:, None]] = torch.tensor(
            [c for f in feats for c in f[2]]
        )
        conv = self.conv(self.chars(chars).transpose(1, 2))
        conv = conv.masked_fill((chars == 0).unsqueeze(1), -1e4).max(dim=2).values
        clusters = torch.tensor([f[3] for f in feats])
        gaz_ids = [g for f in feats for g in f[4]]
        offsets = np.cumsum([0] + [len(f[4]) for f in feats[:-1]]).tolist()
        gaz = self.gaz(torch.tensor(gaz_ids, dtype=torch.long), torch.tensor(offsets))
        return torch.cat(
            [
                self.words(words).float(),
                self.words(stems).float(),
                torch.relu(conv),
                *(emb(clusters[:, i]) for i, emb in enumerate(self.clusters)),
                gaz,
                self.trig(torch.tensor([f[5] for f in feats])),
                self.shape(torch.tensor([f[6] for f in feats])),
            ],
            dim=1,
        )

    def forward(
        self,
        type_vecs: torch.Tensor,
        index: torch.Tensor,
        phrases: torch.Tensor,
        lengths: list[int],
    ) -> torch.Tensor:
        """Logits [batch, time, labels]; `index` maps each padded position to a type row."""
        x = torch.cat([type_vecs[index], self.phrase(phrases)], dim=2)
        x = self.drop(x)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=index.shape[1])
        logits: torch.Tensor = self.out(self.drop(h))
        return logits


def batch_tensors(
    sentences: Sequence[Sequence[str]], types: dict[str, int], phrases: Sequence[Sequence[int]]
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Padded type-index and phrase tensors for sentences whose tokens are all in `types`."""
    lengths = [len(s) for s in sentences]
    width = max(lengths)
    index = torch.zeros(len(sentences), width, dtype=torch.long)
    phr = torch.zeros(len(sentences), width, dtype=torch.long)
    for b, (sent, ph) in enumerate(zip(sentences, phrases, strict=True)):
        index[b, : len(sent)] = torch.tensor([types[t] for t in sent])
        phr[b, : len(sent)] = torch.tensor(ph)
    return index, phr, lengths


def save(
    path: Path,
    model: NeuralTagger,
    vocab: Vocab,
    mix: float,
    settle: float | None = None,
    settle_o_only: bool = False,
) -> None:
    """State dict with the frozen word table in float16 (half the size), vocab, config, the
    CRF weight `mix` of the ensemble (chosen on dev) and when the CRF alone decides a sentence
    (`Tagger._settled`): its margins settle it at weight `settle` (None: `mix`, which makes the
    shortcut exact) and, with `settle_o_only`, it holds no name."""
    state = {k: v for k, v in model.state_dict().items()}
    state["words.weight"] = state["words.weight"].half()
    blob = {
        "config": asdict(model.cfg),
        "mix": mix,
        **({"settle": settle} if settle is not None else {}),
        **({"settle_o_only": True} if settle_o_only else {}),
        "words": vocab.words,
        "chars": vocab.chars,
        "gaz_flags": vocab.gaz_flags,
        "state": state,
    }
    with replacing(path) as tmp:
        torch.save(blob, tmp)


class NeuralRunner:
    """Inference: cached per-type vectors, batched BiLSTM, label probabilities per token."""

    def __init__(
        self, path: Path, featurizer: Featurizer, cache_size: int | None = None, fast: bool = False
    ) -> None:
        """`fast`: cache each type's input projection and run the recurrence in
        `recurrence.GateLSTM` (the same probabilities to ~1e-6; 4 kB a type instead of 1.3 kB,
        so 32k types by default instead of 50k); else torch's packed LSTM, as trained."""
        blob = torch.load(path, map_location="cpu", weights_only=True)
        cfg = blob["config"]
        cfg["cluster_dims"] = tuple(cfg["cluster_dims"])
        self.vocab = Vocab(blob["words"], blob["chars"], blob["gaz_flags"])
        state = blob["state"]
        vectors = state["words.weight"].float()
        state["words.weight"] = vectors
        self.model = NeuralTagger(NeuralConfig(**cfg), self.vocab, vectors)
        self.model.load_state_dict(state)
        self.model.eval()
        self.features = TypeFeatures(featurizer, self.vocab)
        self.mix = float(blob["mix"])
        self.settle = float(blob.get("settle", self.mix))
        self.settle_o_only = bool(blob.get("settle_o_only", False))
        self.gate = GateLSTM(self.model.lstm, self.model.out, self.model.phrase) if fast else None
        self._cache_size = cache_size or (32_000 if fast else 50_000)
        self._rows: dict[str, int] = {}
        self._used: dict[str, int] = {}  # type -> the last call that read it
        self._calls = 0
        self._table = torch.zeros(1024, *self._row_shape())

    def _row_shape(self) -> tuple[int, ...]:
        gate = self.gate
        return (2, 4 * gate.hidden) if gate is not None else (self.model.type_dim,)

    def _type_rows(self, sentences: Sequence[Sequence[str]]) -> dict[str, int]:
        """Type -> row of the cached vector table. A table that would overflow keeps the
        types of the most recent calls (up to half its size) rather than none, so the frequent
        words are not encoded again after each reset."""
        self._calls += 1
        stamp, rows, used = self._calls, self._rows, self._used
        here = list(dict.fromkeys(t for s in sentences for t in s))
        new: list[str] = []
        for t in here:
            if t in rows:
                used[t] = stamp
            else:
                new.append(t)
        if not new:
            return rows
        if len(rows) + len(new) > self._cache_size:
            self._evict(len(new))
            new = [t for t in here if t not in self._rows]  # a call larger than half the cache
        base = len(self._rows)
        need = base + len(new)
        if need > len(self._table):
            size = min(max(need, 2 * len(self._table)), max(need, self._cache_size))
            grown = torch.empty(size, *self._row_shape())  # rows are written before read
            grown[:base] = self._table[:base]
            self._table = grown
        vecs = self._encode(new)
        self._table[base:need] = self.gate.type_gates(vecs) if self.gate is not None else vecs
        self._rows.update((t, base + i) for i, t in enumerate(new))
        self._used.update((t, stamp) for t in new)
        return self._rows

    def _evict(self, room: int) -> None:
        """Keep the most recently used types, at most half the cache and leaving `room` rows,
        moved to the front of the table (the current call's come first: its stamp is newest)."""
        keep = max(0, min(self._cache_size // 2, self._cache_size - room))
        used = self._used
        order = sorted(self._rows, key=used.__getitem__, reverse=True)[:keep]
        if order:
            at = torch.tensor([self._rows[t] for t in order])
            self._table[: len(order)] = self._table[at]  # the gather copies before writing
        self._rows = {t: i for i, t in enumerate(order)}
        self._used = {t: used[t] for t in order}

    def _encode(self, types: Sequence[str], group: int = 512) -> torch.Tensor:
        """`encode_types` of words of like length together: the char-CNN runs as wide as the
        longest word it is given (same vectors; ~40% less time for a call's new types)."""
        feats = [self.features(t) for t in types]
        order = sorted(range(len(feats)), key=lambda i: len(feats[i][2]))
        out = torch.empty(len(feats), self.model.type_dim)
        for k in range(0, len(order), group):
            ids = order[k : k + group]
            out[torch.tensor(ids)] = self.model.encode_types([feats[i] for i in ids])
        return out

    @torch.inference_mode()
    def probs(self, sentences: Sequence[Sequence[str]], batch: int = 64) -> list[np.ndarray]:
        """Softmax label probabilities (n x 9, in `LABELS` order) per non-empty sentence."""
        out: list[np.ndarray] = [np.zeros((0, len(LABELS)))] * len(sentences)
        if self.gate is not None:
            live = [i for i, s in enumerate(sentences) if s]
            if live:
                sents = [sentences[i] for i in live]
                rows = self._type_rows(sents)
                got = self.gate.probs(
                    self._table,
                    [[rows[t] for t in s] for s in sents],
                    [self.features.phrases(s) for s in sents],
                )
                for i, p in zip(live, got, strict=True):
                    out[i] = p
            return out
        order = sorted((i for i, s in enumerate(sentences) if s), key=lambda i: len(sentences[i]))
        for k in range(0, len(order), batch):
            ids = order[k : k + batch]
            sents = [sentences[i] for i in ids]
            rows = self._type_rows(sents)
            index, phr, lengths = batch_tensors(
                sents, rows, [self.features.phrases(s) for s in sents]
            )
            p = torch.softmax(self.model(self._table, index, phr, lengths), dim=2).numpy()
            for j, i in enumerate(ids):
                out[i] = p[j, : lengths[j]]
        return out
