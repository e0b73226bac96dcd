"""Tasks: where batches come from, what the loss is, and how a model is scored."""
