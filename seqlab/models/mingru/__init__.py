"""minGRU and minLSTM language models (Feng et al. 2024): gates that see only the input, so
training scans the recurrence in parallel."""
