"""The encoder-only transformer (BERT-style): bidirectional blocks, a masked-token head and a
sequence-classification head.

model.py: the module (built from the transformer's blocks); config.py: its schema; flops.py:
its analytic FLOP model.
"""

from seqlab.models.encoder.config import EncoderConfig
from seqlab.models.spec import FlopModel, ModelSpec

SPECS = {
    "encoder": ModelSpec(
        EncoderConfig, "seqlab.models.encoder.model:build_encoder",
        "BERT-style encoder-only transformer: bidirectional blocks, masked-token and classification heads",
        serves=("mlm", "sequence_classify"), bounded_context=True, explicit_impl=(("attention", "manual"),),
        flops=FlopModel("seqlab.models.encoder.flops:encoder_flops_report", ("n_embd",), "n_layer",
                        overrides=(("n_head", 1), ("block_size", 10**9), ("pos_encoding", "none")))),
}
