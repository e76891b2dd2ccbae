"""The neural tagger's BiLSTM with its input projection cached per word type (the fast path).

An LSTM gate pre-activation is W_ih·x + b + W_hh·h. The token input x is the word type's
vector followed by its phrase-tag embedding, so W_ih·x splits into a per-type part (computed
once when the type enters the cache, ~70% of the network's multiply-adds per token) plus one
of 7 per-phrase-tag rows. What is left per token is the recurrence W_hh·h, run here for both
directions and all sentences of a call in one loop over time, the batch shrinking as
sentences end (longest first, like a packed sequence, so no padding is computed). Same
quantities as `NeuralTagger.forward` in eval mode, summed in another order: probabilities
differ from torch's packed LSTM by ~1e-6.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from marsad.ner.decode import LABELS


class GateLSTM:
    """Weights of one bidirectional single-layer LSTM and its output layer, regrouped."""

    def __init__(
        self, lstm: torch.nn.LSTM, out: torch.nn.Linear, phrase: torch.nn.Embedding
    ) -> None:
        """`phrase`: the phrase-tag embedding, the last inputs of the LSTM."""
        if lstm.num_layers != 1 or not lstm.bidirectional or not lstm.batch_first:
            raise ValueError("GateLSTM runs one bidirectional batch-first layer")
        w = {k: v.detach() for k, v in lstm.state_dict().items()}
        self.hidden = h = lstm.hidden_size
        w_ih = torch.stack([w["weight_ih_l0"], w["weight_ih_l0_reverse"]])  # 2 x 4h x in
        self.type_dim = w_ih.shape[2] - phrase.embedding_dim
        self._w_type = w_ih[:, :, : self.type_dim].transpose(1, 2).contiguous()  # 2 x type x 4h
        bias = torch.stack(
            [w["bias_ih_l0"] + w["bias_hh_l0"], w["bias_ih_l0_reverse"] + w["bias_hh_l0_reverse"]]
        )
        ph = phrase.weight.detach() @ w_ih[:, :, self.type_dim :].transpose(1, 2)  # 2 x P x 4h
        self._phrase = (ph + bias[:, None, :]).transpose(0, 1).contiguous()  # P x 2 x 4h
        self._w_hh = torch.stack([w["weight_hh_l0"], w["weight_hh_l0_reverse"]])
        self._w_hh = self._w_hh.transpose(1, 2).contiguous()  # 2 x h x 4h
        ow = out.weight.detach()
        self._out = (ow[:, :h].T.contiguous(), ow[:, h:].T.contiguous(), out.bias.detach())

    def type_gates(self, type_vecs: torch.Tensor) -> torch.Tensor:
        """n x 2 x 4h: each type's share of the gate pre-activations, both directions."""
        return torch.einsum("nd,kdg->nkg", type_vecs, self._w_type)

    @torch.inference_mode()
    def probs(
        self,
        table: torch.Tensor,
        rows: Sequence[Sequence[int]],
        phrases: Sequence[Sequence[int]],
    ) -> list[np.ndarray]:
        """Label probabilities (n x 9) per sentence; `rows` index `table` (from `type_gates`),
        `phrases` are the phrase-tag ids; every sentence non-empty."""
        lengths = np.array([len(r) for r in rows])
        order = np.argsort(-lengths, kind="stable")
        lens = lengths[order]
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        flat_rows = torch.from_numpy(np.concatenate([np.asarray(rows[i]) for i in order]))
        flat_ph = torch.from_numpy(np.concatenate([np.asarray(phrases[i]) for i in order]))
        width, h = int(lens[0]), self.hidden
        # Packed time-major order: step t holds the first active[t] sentences (those longer
        # than t). The backward direction reads each sentence reversed, so both directions
        # run left-aligned and a sentence leaves the batch when it ends in both.
        active = np.searchsorted(-lens, -np.arange(width), side="left")  # len > t
        offs = np.concatenate([[0], np.cumsum(active)])
        sent = np.arange(offs[-1]) - np.repeat(offs[:-1], active)  # j of each packed slot
        step = np.repeat(np.arange(width), active)  # t of each packed slot
        fwd = torch.from_numpy(starts[sent] + step)
        bwd = torch.from_numpy(starts[sent] + lens[sent] - 1 - step)
        ph = self._phrase
        gates = torch.empty(2, len(step), 4 * self.hidden)  # sentences longest first
        torch.add(table[flat_rows[fwd], 0], ph[flat_ph[fwd], 0], out=gates[0])
        torch.add(table[flat_rows[bwd], 1], ph[flat_ph[bwd], 1], out=gates[1])
        out = torch.empty(2, len(step), h)
        hid = torch.zeros(2, int(active[0]), h)
        cell = torch.zeros(2, int(active[0]), h)
        w_hh = self._w_hh
        for t in range(width):
            lo, k = int(offs[t]), int(active[t])
            z = torch.baddbmm(gates[:, lo : lo + k], hid[:, :k], w_hh)
            s = torch.sigmoid(z)  # gates i, f, g, o; g takes tanh instead
            g = z[..., 2 * h : 3 * h].tanh()
            cell = torch.addcmul(s[..., h : 2 * h] * cell[:, :k], s[..., :h], g)
            hid = s[..., 3 * h :] * torch.tanh(cell)
            out[:, lo : lo + k] = hid
        n = len(step)
        h_fwd = torch.empty(n, h)
        h_bwd = torch.empty(n, h)
        h_fwd[fwd] = out[0]
        h_bwd[bwd] = out[1]
        w_f, w_b, b = self._out
        p = torch.softmax(h_fwd @ w_f + h_bwd @ w_b + b, dim=1).numpy()
        done: list[np.ndarray] = [np.zeros((0, len(LABELS)))] * len(rows)
        for j, i in enumerate(order):
            done[int(i)] = p[starts[j] : starts[j] + lens[j]]
        return done
