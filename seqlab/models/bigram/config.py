"""Schema of conf/model/bigram.yaml."""


from dataclasses import dataclass

from seqlab.models.spec import ModelConfig


@dataclass
class BigramConfig(ModelConfig):
    """The bigram baseline: next-token logits from the current token alone (no other fields)."""

    name: str = "bigram"
