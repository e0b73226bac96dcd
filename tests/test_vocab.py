import numpy as np
import pytest

from seqlab.data.tokenizers.char import CharVocab


def test_round_trip_of_training_text():
    text = "Once upon a time, Lily saw a cat.\nThe end — “quoted” …"
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert vocab.decode(ids) == text
    assert len(vocab) == len(set(text)) + 1  # + unknown
    assert ids.max() < vocab.unk_id


def test_unknown_characters_map_to_unk_and_are_named():
    vocab = CharVocab.from_text("abc ")
    ids = vocab.encode("a€b™")
    assert ids.tolist() == [0 + 1, vocab.unk_id, 1 + 1, vocab.unk_id]  # ' ' sorts first
    assert vocab.unknown("a€b™€") == ["™", "€"] or sorted(vocab.unknown("a€b™€")) == ["€", "™"]
    assert vocab.decode(ids) == "a\ufffdb\ufffd"


def test_json_round_trip_and_dtype():
    vocab = CharVocab.from_text("hello world")
    again = CharVocab.from_json(vocab.to_json())
    assert again.chars == vocab.chars
    assert vocab.encode("hello").dtype == np.uint8
    big = CharVocab("".join(chr(0x4E00 + i) for i in range(300)))
    assert big.encode(chr(0x4E00 + 299)).dtype == np.uint16


def test_duplicate_characters_rejected():
    with pytest.raises(ValueError):
        CharVocab("aab")


def test_empty_text_encodes_to_empty():
    vocab = CharVocab.from_text("ab")
    assert vocab.encode("").tolist() == []
