"""Model families. Every model maps (B, T) token ids and an optional state to
(B, T, V) logits and the state after the last position, so training, evaluation
and generation treat all of them alike."""
