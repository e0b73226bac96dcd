"""The `seqlab` commands, one module per group; seqlab/cli.py registers them."""
