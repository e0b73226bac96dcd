"""The training engine: device, run folder, checkpoints, the loop and its display."""
