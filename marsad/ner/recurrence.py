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

from marsad.ner.packing import pack


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
        ph = (ph + bias[:, None, :]).transpose(0, 1)  # P x 2 x 4h
        # Most tokens have no phrase tag (id 0): its row and the biases go into each type's
        # cached row, and a tagged token adds the difference from row 0.
        self._phrase0 = ph[0].clone()
        self._phrase_delta = (ph - ph[0]).contiguous()
        self._w_hh = torch.stack([w["weight_hh_l0"], w["weight_hh_l0_reverse"]])
        self._w_hh = self._w_hh.transpose(1, 2).contiguous()  # 2 x h x 4h
        # Gate g takes a tanh = 2·sigmoid(2x) − 1: its columns are doubled, so one in-place
        # sigmoid over the four gates gives them all (tanh costs more than sigmoid here).
        scale = torch.ones(4 * h)
        scale[2 * h : 3 * h] = 2.0
        self._w_type *= scale
        self._phrase0 *= scale
        self._phrase_delta *= scale
        self._w_hh *= scale
        ow = out.weight.detach()
        self._out = (ow[:, :h].T.contiguous(), ow[:, h:].T.contiguous(), out.bias.detach())

    def type_gates(self, type_vecs: torch.Tensor) -> torch.Tensor:
        """n x 2 x 4h: each type's share of the gate pre-activations, both directions, with
        the biases and the no-phrase row added."""
        return torch.einsum("nd,kdg->nkg", type_vecs, self._w_type).add_(self._phrase0)

    @torch.inference_mode()
    def probs(
        self,
        table: torch.Tensor,
        rows: Sequence[Sequence[int]],
        phrases: Sequence[Sequence[int]],
    ) -> list[np.ndarray]:
        """Label probabilities (n x 9) per sentence; `rows` index `table` (from `type_gates`),
        `phrases` are the phrase-tag ids; every sentence non-empty."""
        pk = pack([len(r) for r in rows])
        h = self.hidden
        flat_rows = torch.from_numpy(pk.concat([np.asarray(r) for r in rows]))
        flat_ph = torch.from_numpy(pk.concat([np.asarray(p) for p in phrases]))
        # Both directions run left-aligned in one packed loop: the backward one reads each
        # sentence reversed, so a sentence leaves the batch when it ends in both.
        fwd = torch.from_numpy(pk.src)
        bwd = torch.from_numpy(pk.starts[pk.row] + pk.lens[pk.row] - 1 - pk.step)
        gates = torch.empty(2, len(fwd), 4 * h)
        torch.index_select(table[:, 0], 0, flat_rows[fwd], out=gates[0])
        torch.index_select(table[:, 1], 0, flat_rows[bwd], out=gates[1])
        tagged = torch.stack([flat_ph[fwd], flat_ph[bwd]])
        side, slot = tagged.nonzero(as_tuple=True)
        gates[side, slot] += self._phrase_delta[tagged[side, slot], side]
        out = torch.empty(2, len(fwd), h)
        steps = pk.steps()
        hid = torch.zeros(2, steps[0][1], h)
        cell = torch.zeros(2, steps[0][1], h)
        w_hh = self._w_hh
        for lo, k in steps:
            z = torch.baddbmm(gates[:, lo : lo + k], hid[:, :k], w_hh).sigmoid_()
            i, o = z[..., :h], z[..., 3 * h :]
            # c = f·c + i·(2·s_g − 1) and h = o·(2·sigmoid(2c) − 1), as in-place steps
            cell = torch.mul(z[..., h : 2 * h], cell[:, :k]).sub_(i)
            cell.addcmul_(i, z[..., 2 * h : 3 * h], value=2.0)
            hid = torch.mul(o, torch.mul(cell, 2.0).sigmoid_(), out=out[:, lo : lo + k])
            hid.mul_(2.0).sub_(o)
        n = len(fwd)
        h_fwd = torch.empty(n, h)
        h_bwd = torch.empty(n, h)
        h_fwd[fwd] = out[0]
        h_bwd[bwd] = out[1]
        w_f, w_b, b = self._out
        p = torch.softmax(h_fwd @ w_f + h_bwd @ w_b + b, dim=1).numpy()
        return pk.split(p)
