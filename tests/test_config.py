"""Config composition: the defaults are the seed's GRU run; bad overrides are rejected."""

import pytest

from seqlab.config.compose import compose, one_line
from seqlab.errors import SeqlabError


def test_defaults_are_the_seed_gru_run():
    cfg = compose([])
    assert cfg.model.name == "gru" and cfg.model.impl == "fused"
    assert (cfg.model.embed_size, cfg.model.hidden_size) == (64, 256)
    assert cfg.task.name == "tinystories" and cfg.task.seq_len == 20
    assert cfg.task.max_chars == 10_000_000
    assert (cfg.trainer.batch_size, cfg.trainer.lr, cfg.trainer.max_steps) == (32, 1e-3, 2000)
    assert cfg.trainer.optimizer == "adam"


def test_overrides_apply_and_env_sets_source(monkeypatch):
    monkeypatch.setenv("SEQLAB_TINYSTORIES", "/data/ts")
    cfg = compose(["model.hidden_size=512", "trainer.max_steps=7", "device=cpu"])
    assert cfg.model.hidden_size == 512 and cfg.trainer.max_steps == 7 and cfg.device == "cpu"
    assert cfg.task.source == "/data/ts"


@pytest.mark.parametrize("override, words", [
    ("model.hiden_size=3", "hiden_size"),
    ("trainer.max_step=3", "max_step"),
    ("trainer.max_steps=abc", "max_steps"),
    ("model=nonexistent", "gru"),  # lists the choices
])
def test_bad_override_names_the_key(override, words):
    with pytest.raises(SeqlabError) as info:
        compose([override])
    message = str(info.value)
    assert words in message
    assert "\n" not in message


def test_user_config_dir_is_searched_first(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "wide_gru.yaml").write_text(
        "defaults:\n  - schema_gru\n  - _self_\nname: gru\nhidden_size: 1024\n")
    cfg = compose(["model=wide_gru"], [tmp_path])
    assert cfg.model.hidden_size == 1024 and cfg.model.embed_size == 64


def test_one_line_keeps_choices():
    err = Exception("In 'config': Could not find 'model/x'\n\nAvailable options in 'model':\n\tgru\n\tlstm\n")
    assert one_line(err) == "In 'config': Could not find 'model/x'; available: gru, lstm"
