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
        self._phrase = (ph + bias[:, None, :]).transpose(0, 1).contiguous()  # P x 2 x 4h
        self._w_hh = torch.stack([w["weight_hh_l0"], w["weight_hh_l0_reverse"]])
        self._w_hh = self._w_hh.transpose(1, 2).contiguous()  # 2 x h x 4h
        # Gates i, f, o take a sigmoid and g a tanh = 2·sigmoid(2x) − 1; with every gate
        # column scaled by −1 (i, f, o) or −2 (g), one exp and one reciprocal give all four
        # (exp is ~2× cheaper than torch's sigmoid here, and tanh costs more than sigmoid).
        scale = torch.full((4 * h,), -1.0)
        scale[2 * h : 3 * h] = -2.0
        self._w_type *= scale
        self._phrase *= scale
        self._w_hh *= scale
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
        pk = pack([len(r) for r in rows])
        h = self.hidden
        flat_rows = torch.from_numpy(pk.concat([np.asarray(r) for r in rows]))
        flat_ph = torch.from_numpy(pk.concat([np.asarray(p) for p in phrases]))
        # Both directions run left-aligned in one packed loop: the backward one reads each
        # sentence reversed, so a sentence leaves the batch when it ends in both.
        fwd = torch.from_numpy(pk.src)
        bwd = torch.from_numpy(pk.starts[pk.row] + pk.lens[pk.row] - 1 - pk.step)
        ph = self._phrase
        gates = torch.empty(2, len(fwd), 4 * h)
        torch.add(table[flat_rows[fwd], 0], ph[flat_ph[fwd], 0], out=gates[0])
        torch.add(table[flat_rows[bwd], 1], ph[flat_ph[bwd], 1], out=gates[1])
        out = torch.empty(2, len(fwd), h)
        steps = pk.steps()
        hid = torch.zeros(2, steps[0][1], h)
        cell = torch.zeros(2, steps[0][1], h)
        w_hh = self._w_hh
        for lo, k in steps:
            z = torch.baddbmm(gates[:, lo : lo + k], hid[:, :k], w_hh).exp_().add_(1.0)
            z.reciprocal_()  # sigmoid of i, f, o and of 2x for g
            g = z[..., 2 * h : 3 * h].mul(2.0).sub_(1.0)
            cell = torch.addcmul(z[..., h : 2 * h] * cell[:, :k], z[..., :h], g)
            tanh = cell.mul(-2.0).exp_().add_(1.0).reciprocal_().mul_(2.0).sub_(1.0)
            hid = torch.mul(z[..., 3 * h :], tanh, out=out[:, lo : lo + k])
        n = len(fwd)
        h_fwd = torch.empty(n, h)
        h_bwd = torch.empty(n, h)
        h_fwd[fwd] = out[0]
        h_bwd[bwd] = out[1]
        w_f, w_b, b = self._out
        p = torch.softmax(h_fwd @ w_f + h_bwd @ w_b + b, dim=1).numpy()
        return pk.split(p)
