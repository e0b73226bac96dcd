"""Text corpora prepared once into token files: streaming, the cache, tokenizers (char, byte, bpe)."""
