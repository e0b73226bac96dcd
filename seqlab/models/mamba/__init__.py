"""A Mamba-2 (selective state-space) language model in pure PyTorch, scanned with SSD.

model.py: the mixer, blocks and LM, the chunked SSD and the sequential reference; config.py:
its schema; flops.py: its analytic FLOP model.
"""

from seqlab.models.mamba.config import MambaConfig
from seqlab.models.spec import FlopModel, ModelSpec

SPECS = {
    "mamba": ModelSpec(
        MambaConfig, "seqlab.models.mamba.model:build_mamba",
        "Mamba-2 LM (Dao & Gu 2024): selective SSM scanned with chunked SSD; scan=chunked|sequential",
        # SSD is einsums (batched matmuls) and the sequential reference reads its state with one:
        # FlopCounterMode sees every matmul as configured, so explicit_impl stays empty.
        # headdim takes the width in `seqlab flops --plot` so that any D divides: heads only
        # change the dt projection's few columns.
        flops=FlopModel("seqlab.models.mamba.flops:mamba_flops", ("headdim", "n_embd"), "n_layer")),
}
