"""The decoder-only transformer (nanoGPT-style, with the course's switches and the modern
recipe's: RoPE, RMSNorm, SwiGLU, no biases; conf/model/llama.yaml sets them together).

model.py: blocks, attention (sdpa or manual), KV-cached generation; config.py: its schema;
flops.py: its analytic FLOP model.
"""

from seqlab.models.spec import TASK_KINDS, FlopModel, ModelSpec
from seqlab.models.transformer.config import TransformerConfig

SPECS = {
    "transformer": ModelSpec(
        TransformerConfig, "seqlab.models.transformer.model:build_transformer",
        "nanoGPT-style decoder-only transformer, KV-cached; attention=sdpa|manual; Llama's "
        "rope, rmsnorm, swiglu as switches",
        serves=(*TASK_KINDS, "mlm"),  # causal=false reads both sides: masked-token modelling
        bounded_context=True, attention_maps=True, explicit_impl=(("attention", "manual"),),
        flops=FlopModel("seqlab.models.transformer.flops:transformer_flops", ("n_embd",), "n_layer",
                        overrides=(("n_head", 1), ("block_size", 10**9), ("pos_encoding", "none")),
                        plot_generate=True)),
}
