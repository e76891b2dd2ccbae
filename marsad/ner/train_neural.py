"""Train the neural half of the NER ensemble (training only: needs the training data folder,
--data-dir or $MARSAD_NER_DATA, and gensim).

Dev mode trains on the first 90% of ANERcorp's train split, picks the epoch by dev F1 of the
network alone and the CRF/network mixing weight by dev F1 of the ensemble (against a CRF also
trained on the first 90%). The full model is then trained on all train sentences for that
fixed number of epochs, with that weight. Deterministic for a given seed on one thread.
"""

from __future__ import annotations

import argparse
import copy
import logging
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from marsad.ner.clusters import prepare_corpus, train_word2vec
from marsad.ner.conll import read_conll, score
from marsad.ner.crf_training import parse_fold, split_dev
from marsad.ner.decode import LABEL_INDEX, LABELS, viterbi
from marsad.ner.distill import soft_loss, teacher_probs
from marsad.ner.features import Featurizer
from marsad.ner.model import NEURAL_FILE, Tagger
from marsad.ner.neural import (
    MAX_CHARS,
    NeuralConfig,
    NeuralTagger,
    TypeFeatures,
    Vocab,
    batch_tensors,
    save,
)
from marsad.ner.resources import DATA_DIR, load_resources
from marsad.ner.train import SEED
from marsad.ner.training_data import DATA_HELP, TRAIN_FILE, TrainingDataError, resolve_data_dir
from marsad.text.arabic import fold_token
from marsad.text.clitics import strip_clitics

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

log = logging.getLogger(__name__)

Sentence = Sequence[tuple[str, str | None]]
MIX_GRID = tuple(round(0.1 * k, 1) for k in range(11))
# CRF weight of the shipped ensemble: the dev grid's best point in most epochs of both dev runs
# (docs/ner.md); the per-epoch pick is noisy because the repeat pass flips several names at once
DEFAULT_MIX = 0.7
# The shipped network (issue 17): trained again on gold + silver sentences tagged by the
# network above with the CRF, mixed at 0.4 (the best mean over four dev blocks); the CRF alone
# decides a sentence it settles at 0.95 and finds no name in (rules, dev and test: docs/ner.md).
SELF_MIX, SELF_SETTLE, SELF_SETTLE_O_ONLY = 0.4, 0.95, True


def build_vocab(
    wv: KeyedVectors, train: Sequence[Sentence], feat: Featurizer, top_words: int
) -> tuple[Vocab, torch.Tensor]:
    """Most frequent corpus words plus every train word/stem the corpus knows; chars of train."""
    words = list(wv.index_to_key[:top_words])
    seen = set(words)
    rank = feat.res.rank
    chars: set[str] = set()
    for sent in train:
        for tok, _ in sent:
            n = fold_token(tok)
            chars.update(n[:MAX_CHARS])
            for w in (n, strip_clitics(n, rank)[1]):
                if w not in seen and w in wv.key_to_index:
                    seen.add(w)
                    words.append(w)
    vectors = np.zeros((len(words) + 2, wv.vector_size), dtype=np.float32)
    vectors[2:] = np.stack([wv[w] for w in words])
    flags = sorted({g for gs in feat.res.gaz_tokens.values() for g in gs})
    gaz = ["<none>", *flags, *("s" + g for g in flags)]  # "s": flag of the clitic-stripped stem
    vocab = Vocab(["<pad>", "<unk>", *words], ["<pad>", "<unk>", *sorted(chars)], gaz)
    # float16 round trip now, so training sees exactly the vectors that ship
    return vocab, torch.from_numpy(vectors).half().float()


class Data:
    """Type features and phrase tags computed once for a set of sentences."""

    def __init__(self, sentences: Sequence[Sentence], tf: TypeFeatures) -> None:
        self.tokens = [[t for t, _ in s] for s in sentences]
        self.gold = [[lab or "O" for _, lab in s] for s in sentences]
        self.labels = [[LABEL_INDEX.get(lab, 0) for lab in g] for g in self.gold]
        self.phrases = [tf.phrases(s) for s in self.tokens]
        self.feats = {t: tf(t) for s in self.tokens for t in s}


def _forward(
    model: NeuralTagger, data: Data, ids: Sequence[int], word_dropout: float = 0.0
) -> tuple[torch.Tensor, list[int]]:
    sents = [data.tokens[i] for i in ids]
    types = {t: k for k, t in enumerate(dict.fromkeys(t for s in sents for t in s))}
    feats = [data.feats[t] for t in types]
    if word_dropout:
        feats = [
            (1, 1, *f[2:]) if f[0] > 1 and random.random() < word_dropout else f for f in feats
        ]
    index, phr, lengths = batch_tensors(sents, types, [data.phrases[i] for i in ids])
    return model(model.encode_types(feats), index, phr, lengths), lengths


def predict_probs(model: NeuralTagger, data: Data, batch: int = 64) -> list[np.ndarray]:
    model.eval()
    out: list[np.ndarray] = [np.zeros((0, len(LABELS)))] * len(data.tokens)
    order = sorted(range(len(data.tokens)), key=lambda i: len(data.tokens[i]))
    with torch.inference_mode():
        for k in range(0, len(order), batch):
            ids = order[k : k + batch]
            logits, lengths = _forward(model, data, ids)
            p = torch.softmax(logits, dim=2).numpy()
            for j, i in enumerate(ids):
                out[i] = p[j, : lengths[j]]
    return out


def decode_f1(
    probs: Sequence[np.ndarray], data: Data, repeat: Tagger | None
) -> tuple[float, float, float]:
    pred = [viterbi(p) for p in probs]
    if repeat is not None:
        repeat._tag_repeats(data.tokens, pred)
    m = score(data.gold, pred).micro
    return 100 * m.precision, 100 * m.recall, 100 * m.f1


def train_model(
    train: Data,
    vocab: Vocab,
    vectors: torch.Tensor,
    cfg: NeuralConfig,
    seed: int,
    dev: Data | None = None,
    crf_dev: list[np.ndarray] | None = None,
    repeat: Tagger | None = None,
    teacher: Sequence[np.ndarray] | None = None,
    distill: float = 0.0,
) -> tuple[NeuralTagger, int, float]:
    """Train for cfg.epochs (or until dev stops improving); returns model, epochs, best mix.

    `teacher`: per training sentence, label probabilities (n x 9) of other networks (their
    average: `distill.teacher_probs`); the loss is then (1 − distill)·cross-entropy with the
    labels + distill·cross-entropy with those probabilities (`distill.soft_loss`)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = NeuralTagger(cfg, vocab, vectors)
    # exponential moving average of the weights: what is evaluated and shipped when cfg.ema > 0
    avg = copy.deepcopy(model) if cfg.ema else model
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
    order = list(range(len(train.tokens)))
    best: tuple[float, int, float, dict[str, torch.Tensor] | None] = (-1.0, 0, 1.0, None)
    stale = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        random.shuffle(order)
        t0, total = time.process_time(), 0.0
        for k in range(0, len(order), cfg.batch):
            ids = order[k : k + cfg.batch]
            logits, lengths = _forward(model, train, ids, cfg.word_dropout)
            gold = torch.full(logits.shape[:2], -1, dtype=torch.long)
            for j, i in enumerate(ids):
                gold[j, : lengths[j]] = torch.tensor(train.labels[i])
            loss = loss_fn(logits.reshape(-1, len(LABELS)), gold.reshape(-1))
            if teacher is not None and distill:
                soft = soft_loss(logits, [teacher[i] for i in ids], gold.ne(-1))
                loss = (1 - distill) * loss + distill * soft
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += loss.item()
            if avg is not model:
                with torch.no_grad():
                    for pa, pm in zip(avg.parameters(), model.parameters(), strict=True):
                        if pm.requires_grad:
                            pa.mul_(cfg.ema).add_(pm, alpha=1 - cfg.ema)
        msg = f"epoch {epoch} loss {total:.1f} ({time.process_time() - t0:.0f} s CPU)"
        if dev is None:
            log.info(msg)
            continue
        probs = predict_probs(avg, dev)
        nn_f1 = decode_f1(probs, dev, repeat)
        msg += " dev NN P/R/F1 {:.2f}/{:.2f}/{:.2f}".format(*nn_f1)
        mixes = {}
        if crf_dev is not None:
            for a in MIX_GRID:
                mixed = [a * c + (1 - a) * p for c, p in zip(crf_dev, probs, strict=True)]
                mixes[a] = decode_f1(mixed, dev, repeat)
            a_best = _smoothed_best(mixes)
            msg += " ens a={:.1f} {:.2f}/{:.2f}/{:.2f}".format(a_best, *mixes[a_best])
        log.info(msg)
        if nn_f1[2] > best[0]:
            state = {k: v.clone() for k, v in avg.state_dict().items()}
            a_best = _smoothed_best(mixes) if mixes else 1.0
            best, stale = (nn_f1[2], epoch, a_best, state), 0
            if mixes:
                log.info("  mix grid: %s", " ".join(f"{a}:{f[2]:.2f}" for a, f in mixes.items()))
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if dev is not None and best[3] is not None:
        avg.load_state_dict(best[3])
    return avg, best[1] if dev is not None else cfg.epochs, best[2]


def _smoothed_best(mixes: dict[float, tuple[float, float, float]]) -> float:
    """Grid point with the best F1 averaged with its neighbours: the repeat pass makes single
    grid points noisy (a name spread or not flips several entities at once)."""
    grid = sorted(mixes)

    def smooth(i: int) -> float:
        near = grid[max(0, i - 1) : i + 2]
        return sum(mixes[a][2] for a in near) / len(near)

    return grid[max(range(len(grid)), key=smooth)]


def build_neural(
    data_dir: Path,
    out: Path = DATA_DIR,
    seed: int = SEED,
    dev: bool = False,
    work: Path | None = None,
    w2v: Path | None = None,
    cfg: NeuralConfig | None = None,
    mix: float = DEFAULT_MIX,
    silver: Path | None = None,
    settle: float | None = None,
    settle_o_only: bool = False,
    teachers: Sequence[Path] = (),
    distill: float = 0.0,
    fold: tuple[int, int] | None = None,
) -> str:
    """Train the network next to the CRF files in `out` and write `NEURAL_FILE` there.

    `silver`: a CoNLL file of machine-tagged sentences (`marsad.ner.silver`) trained on with
    the gold ones every epoch; the vocabulary is still built from the gold sentences alone.
    `settle`: the CRF weight at which the CRF's margins alone decide a sentence at tagging time
    (stored; None = `mix`, the exact shortcut); `settle_o_only`: and only a sentence without
    a name. `teachers`: network files whose averaged probabilities the network also learns
    from, with weight `distill` (`train_model`).

    With `dev`, the CRF in `out` must be the one trained without the dev sentences (`train
    --dev`, with the same `fold` if any): the epoch is chosen by early stopping and the mix by
    the grid, both on dev. Without it, train on all sentences for `cfg.epochs` and store `mix`.
    """
    torch.set_num_threads(1)
    cfg = cfg or NeuralConfig()
    work = work or Path(tempfile.gettempdir()) / "marsad-ner-work"
    work.mkdir(parents=True, exist_ok=True)
    sentences = read_conll(data_dir / TRAIN_FILE)
    train, dev_part = split_dev(sentences, fold=fold) if dev else (sentences, [])
    feat = Featurizer(load_resources(out))
    w2v = w2v or work / f"w2v-{seed}.model"
    corpus = Path() if w2v.exists() else prepare_corpus(data_dir, work / "saudinewsnet.norm.txt")
    wv = train_word2vec(corpus, seed, w2v)
    vocab, vectors = build_vocab(wv, train, feat, cfg.top_words)
    del wv
    tf = TypeFeatures(feat, vocab)
    log.info("vocab %d words, %d chars; %s", len(vocab.words), len(vocab.chars), cfg)
    if silver is not None:
        train = [*train, *read_conll(silver)]
        log.info("+ silver: %d training sentences in all", len(train))
    data = Data(train, tf)
    teacher = teacher_probs(teachers, data.tokens, feat) if teachers and distill else None
    if not dev:
        model, _, _ = train_model(data, vocab, vectors, cfg, seed, teacher=teacher, distill=distill)
        save(out / NEURAL_FILE, model, vocab, mix, settle, settle_o_only)
        return f"trained {cfg.epochs} epochs, mix {mix}; wrote {out / NEURAL_FILE}"
    dev_data = Data(dev_part, tf)
    crf = Tagger(out, neural=False)
    crf_dev = [crf.crf_marginals(s) for s in dev_data.tokens]
    log.info(
        "dev CRF marginals, constrained Viterbi: %.2f/%.2f/%.2f", *decode_f1(crf_dev, dev_data, crf)
    )
    model, epochs, best_mix = train_model(
        data, vocab, vectors, cfg, seed, dev_data, crf_dev, crf, teacher, distill
    )
    save(out / NEURAL_FILE, model, vocab, best_mix)
    return f"best dev epoch {epochs}, best dev mix {best_mix}; wrote {out / NEURAL_FILE}"


def main(argv: list[str]) -> int:
    """`python -m marsad.ner.train_neural [--dev] ...` (`marsad ner train` runs it too)."""
    ap = argparse.ArgumentParser(prog="python -m marsad.ner.train_neural", description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=None, metavar="DIR", help=DATA_HELP)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=DATA_DIR, help="folder with the CRF files")
    ap.add_argument("--w2v", type=Path, default=None, help="word2vec model (else built in --work)")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--dev", action="store_true", help="train on first 90%%, report dev")
    ap.add_argument("--mix", type=float, default=DEFAULT_MIX, help="CRF weight (full training)")
    ap.add_argument("--set", nargs="*", default=[], help="config overrides, e.g. epochs=20")
    ap.add_argument("--silver", type=Path, default=None, help="silver CoNLL (marsad.ner.silver)")
    ap.add_argument(
        "--settle",
        type=float,
        default=None,
        help="CRF weight at which the CRF alone decides a sentence (default: --mix, exact)",
    )
    ap.add_argument(
        "--settle-o-only",
        action="store_true",
        help="the CRF alone decides only sentences in which it finds no name",
    )
    ap.add_argument(
        "--teacher",
        type=Path,
        nargs="*",
        default=[],
        help="network files whose averaged probabilities the network also learns from",
    )
    ap.add_argument(
        "--distill",
        type=float,
        default=0.5,
        help="with --teacher: the weight of the teachers' probabilities in the loss",
    )
    ap.add_argument(
        "--fold",
        type=parse_fold,
        default=None,
        metavar="K/N",
        help="with --dev: the k-th of n contiguous blocks is dev instead of the last 10%%",
    )
    args = ap.parse_args(argv)
    if args.fold and not args.dev:
        ap.error("--fold K/N picks a dev block: use it with --dev")
    missing = [str(p) for p in args.teacher if not p.is_file()]
    if missing:
        ap.error("no teacher network at " + ", ".join(missing))
    if not 0.0 <= args.distill <= 1.0:
        ap.error(f"--distill is a weight from 0 to 1, got {args.distill}")
    try:
        data_dir = resolve_data_dir(args.data_dir)
    except TrainingDataError as exc:
        print(f"{ap.prog}: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = NeuralConfig()
    for kv in args.set:
        key, value = kv.split("=", 1)
        cur = getattr(cfg, key)
        cfg = replace(cfg, **{key: type(cur)(eval(value) if isinstance(cur, tuple) else value)})
    print(
        build_neural(
            data_dir,
            args.out,
            args.seed,
            args.dev,
            args.work,
            args.w2v,
            cfg,
            args.mix,
            args.silver,
            args.settle,
            args.settle_o_only,
            args.teacher,
            args.distill if args.teacher else 0.0,
            args.fold,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
