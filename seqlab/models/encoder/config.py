"""Schema of conf/model/encoder.yaml."""


from dataclasses import dataclass

from seqlab.models.transformer.config import TransformerConfig


@dataclass
class EncoderConfig(TransformerConfig):
    """Encoder-only transformer (BERT-style): the same fields, bidirectional blocks
    (`causal` is ignored: every token sees the whole sequence), a masked-token head and a
    classification head."""

    name: str = "encoder"
    n_layer: int = 2
    n_embd: int = 128
    block_size: int = 128
    causal: bool = False
    num_classes: int = 2
    """Classes of the sequence-classification head; 0 = no such head (masked-LM pretraining)."""
    pool: str = "mean"
    """What the classification head reads: `mean` (over real positions) or `first` (position 0)."""
