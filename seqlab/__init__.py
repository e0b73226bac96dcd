"""seqlab: a command-line experiment runner for sequence models."""

__version__ = "0.1.0"
