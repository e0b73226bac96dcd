"""Reading run folders: plots, comparisons, FLOP reports."""
