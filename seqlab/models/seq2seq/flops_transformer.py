"""FLOP model of the transformer encoder-decoder (seqlab/models/seq2seq.py), in the conventions
of seqlab/models/flop_table.py, for B pairs of an S-token source and a T-token decoder input.

Per layer and pair, width D, MLP width F (d_ff, default 4D), forward:
    encoder   projections 8SD² (q, k, v, out) + scores and values 4S²D (S×S: both ways) + MLP 4SDF
    decoder   self-attention 8TD² + 4T²D (computed T×T; the causal triangle needs 2T(T+1)D)
              cross-attention: q and out 4TD², k and v of the encoder's output 4SD², scores and values 4TSD
              MLP 4TDF
then the head 2TDV. With F = 4D: encoder 24SD² + 4S²D, decoder 28TD² + 4SD² + 4T²D + 4TSD.
Backward is twice the forward: every matmul's inputs need a gradient (the embeddings are trained).
"""

from __future__ import annotations

from typing import Any

from seqlab.models.flop_table import FlopReport, Row, n, pair_lengths


def seq2seq_transformer_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False,
                              target_len: int | None = None) -> FlopReport:
    """`T` is the source length S; `target_len` the decoder's (default: S); `h0_grad` has no meaning here."""
    S, Tt, lengths_note = pair_lengths(T, target_len)
    D, L = cfg.n_embd, cfg.n_layer
    F = cfg.d_ff or 4 * D
    ab, mb = bool(cfg.attn_bias), bool(cfg.bias)
    pos = D * cfg.block_size if cfg.pos_encoding == "learned" else 0
    computed = 4 * Tt * Tt * D * L
    needed = 2 * Tt * (Tt + 1) * D * L if cfg.causal else computed
    # Generating T tokens: with a KV cache every position is processed once; a bidirectional decoder
    # has no cache (a new token changes every earlier position), so step t re-reads all t of them.
    positions = Tt if cfg.causal else Tt * (Tt + 1) // 2
    self_gen = needed if cfg.causal else 4 * D * L * Tt * (Tt + 1) * (2 * Tt + 1) // 6
    proj_params, mlp_params = L * (4 * D * D + 4 * D * ab), L * (2 * D * F + (F + D) * mb)

    def row(component: str, key: str, forward: int, seq: int, steps: int = 1, params: int = 0,
            generate: int | None = None) -> Row:
        """A component run `seq` matmuls deep; generating, `steps` times over (once per decoded token)."""
        gen = forward if generate is None else generate
        return Row(component, key, params=params, forward=B * forward, backward=2 * B * forward,
                   generate=B * gen, seq_forward=seq, seq_backward=seq, seq_generate=seq * steps)

    rows = [
        Row(f"embedding (token{' + pos' if pos else ''}, shared)", "embedding", params=V * D + pos),
        row("encoder attn projections (q, kv, out)", "enc_proj", 8 * S * D * D * L, 2 * L, params=proj_params),
        row("encoder QKᵀ + AV (S×S, both ways)", "enc_attention", 4 * S * S * D * L, 2 * L),
        row(f"encoder MLP (D→{'4D' if F == 4 * D else F}→D)", "enc_mlp", 4 * S * D * F * L, 2 * L, params=mlp_params),
        row("decoder self-attn projections", "dec_proj", 8 * Tt * D * D * L, 2 * L, Tt, params=proj_params,
            generate=8 * positions * D * D * L),
        row("decoder QKᵀ + AV (computed, T×T)", "dec_attention", computed, 2 * L, Tt, generate=self_gen),
        row("cross-attn projections (q, out: T; kv: S)", "cross_proj", (4 * Tt + 4 * S) * D * D * L, 2 * L, Tt,
            params=proj_params, generate=(4 * positions + 4 * S) * D * D * L),
        row("cross-attn QKᵀ + AV (T×S)", "cross_attention", 4 * Tt * S * D * L, 2 * L, Tt,
            generate=4 * positions * S * D * L),
        row(f"decoder MLP (D→{'4D' if F == 4 * D else F}→D)", "dec_mlp", 4 * Tt * D * F * L, 2 * L, Tt,
            params=mlp_params, generate=4 * positions * D * F * L),
        Row("LayerNorms", "norms", params=(5 * L + 2) * D * (1 + mb)),
        row(f"vocab head ({'tied' if cfg.tie_head else 'its own V×D'})", "head", 2 * Tt * D * V, 1, Tt,
            params=0 if cfg.tie_head else V * D),
        Row(f"  decoder QKᵀ + AV needed ({'causal ◺' if cfg.causal else 'not causal: all of it'})", "needed",
            forward=B * needed, backward=2 * B * needed, generate=B * self_gen, in_total=False),
    ]
    formulas = _formulas(cfg, S, Tt, V, F, positions, self_gen)
    notes = [lengths_note]
    if cfg.causal:
        notes.append("seqlab's greedy decoding re-reads the decoder's prefix at every step (no KV cache: the"
                     " targets are short); the generate column is the cached cost")
    if max(S, Tt) > cfg.block_size:
        notes.append(f"S or T exceeds block_size = {cfg.block_size}: the model would refuse this pair")
    dims = {"layers": L, "n_embd": D, "n_head": cfg.n_head, "block_size": cfg.block_size}
    return FlopReport("seq2seq_transformer", S, B, V, dims, rows, formulas, notes, target_len=Tt)


def _formulas(cfg: Any, S: int, Tt: int, V: int, F: int, positions: int, self_gen: int) -> list[str]:
    """The report's formula lines, with this config's numbers."""
    D, L = cfg.n_embd, cfg.n_layer
    computed, needed = 4 * Tt * Tt * D * L, 2 * Tt * (Tt + 1) * D * L
    enc = 8 * S * D * D * L + 4 * S * S * D * L + 4 * S * D * F * L
    dec = (12 * Tt + 4 * S) * D * D * L + computed + 4 * Tt * S * D * L + 4 * Tt * D * F * L
    return [
        f"encoder per pair: L·(8SD² + 4S²D + 4SDF) = {n(enc)}; decoder: L·(12TD² + 4SD² + 4T²D + 4TSD + 4TDF)"
        f" = {n(dec)}; head 2TDV = {n(2 * Tt * D * V)}",
        f"backward twice the forward; training = forward + backward = {n(3 * (enc + dec + 2 * Tt * D * V))} per pair",
        (f"generate: the encoder and the cross-attention keys once, the decoder token by token with a KV cache"
         f" (step t reads t cached keys: {n(needed)} instead of {n(computed)})" if cfg.causal else
         "generate: the encoder and the cross-attention keys once; a bidirectional decoder has no KV cache, so"
         f" step t re-reads all t positions: Σt = {n(positions)} positions, self-attention {n(self_gen)}"),
        f"sequential matmuls: encoder 6L, then decoder 10L (self-attention 4, cross-attention 4, MLP 2), +1 head:"
        f" {16 * L + 1}; generate 6L + T·(10L + 1) = {6 * L + Tt * (10 * L + 1)}",
    ]
