"""Distillation: a network that also learns other networks' averaged probabilities, so what
an ensemble of several knows costs one network at tagging time (`train_neural --teacher`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from marsad.ner.features import Featurizer


def teacher_probs(
    paths: Sequence[Path], sentences: Sequence[Sequence[str]], featurizer: Featurizer
) -> list[np.ndarray]:
    """The average of the label probabilities of the networks in `paths` (eval mode, as
    trained) for each sentence: the soft targets of `train_neural.train_model`'s `teacher`."""
    from marsad.ner.neural import NeuralRunner

    total: list[np.ndarray] | None = None
    for path in paths:
        probs = NeuralRunner(path, featurizer).probs(sentences)
        total = probs if total is None else [t + p for t, p in zip(total, probs, strict=True)]
    if total is None:
        raise ValueError("no teacher network given")
    return [t / len(paths) for t in total]


def soft_loss(
    logits: torch.Tensor, targets: Sequence[np.ndarray], mask: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of padded `logits` [batch, time, labels] with per-sentence target
    probabilities (n x labels each, left-aligned), averaged over the positions in `mask`."""
    soft = torch.zeros(logits.shape)
    for j, t in enumerate(targets):
        soft[j, : len(t)] = torch.from_numpy(t)
    return -(soft * torch.log_softmax(logits, dim=2)).sum(dim=2)[mask].mean()
