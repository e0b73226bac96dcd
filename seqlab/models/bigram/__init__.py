"""The bigram baseline: next-token logits from the current token alone (a V x V table).

model.py: the module and its builder; config.py: its schema. No FLOP model: a table lookup
has no matmul.
"""

from seqlab.models.bigram.config import BigramConfig
from seqlab.models.spec import ModelSpec

SPECS = {
    "bigram": ModelSpec(
        BigramConfig, "seqlab.models.bigram.model:build_bigram",
        "bigram baseline: next-token logits from the current token alone (a V x V table)"),
}
