"""A Mamba-2 (selective state-space) language model in pure PyTorch, scanned with SSD."""
