"""Hydra's grammar errors come back as one line that names the correct spelling."""

from __future__ import annotations

import pytest
from conftest import run_cli

from seqlab.config.hints import explain

KEYS = ["device", "seed", "trainer.max_steps", "trainer.lr", "model.name", "model.hidden_size",
        "model.embed_size"]


def hint(message: str, *overrides: str) -> str:
    return explain(message, list(overrides), keys=lambda: KEYS)


def test_a_key_without_its_group_names_the_full_key():
    got = hint("Could not override 'max_steps'.; Key 'max_steps' not in 'Config'", "max_steps=300")
    assert "trainer.max_steps=300" in got


def test_a_misspelt_key_gets_the_nearest_sibling():
    got = hint("Could not override 'model.hiden_size'.; Key 'hiden_size' not in 'GRUConfig'",
               "model.hiden_size=128")
    assert "did you mean model.hidden_size=128" in got


def test_an_unknown_key_without_a_near_one_lists_the_group():
    got = hint("Could not override 'model.zzz'.; Key 'zzz' not in 'GRUConfig'", "model.zzz=1")
    assert "hidden_size" in got and "did you mean" not in got


def test_a_misspelt_option_hides_the_internal_schemas():
    got = hint("In 'config': Could not find 'model/transfomer'; Config search path:; "
               "available: gru, schema_gru, schema_transformer, transformer", "model=transfomer")
    assert "did you mean model=transformer?" in got
    assert "schema_" not in got


def test_an_experiment_without_plus_says_so():
    got = hint("Could not override 'experiment'. No match in the defaults list.", "experiment=copy_tiny_transformer")
    assert "+experiment=copy_tiny_transformer" in got


def test_a_flag_becomes_an_override():
    got = hint("LexerNoViableAltException: --max_steps; ^; See https://hydra.cc", "--max_steps", "300")
    assert "trainer.max_steps=300" in got


def test_other_errors_pass_through_unchanged():
    assert hint("something else entirely") == "something else entirely"


@pytest.mark.parametrize("args, expected", [
    (["max_steps=300"], "trainer.max_steps=300"),
    (["model=transfomer"], "did you mean model=transformer?"),
    (["model=transformer", "model.n_embed=64"], "model.n_embd=64"),
    (["experiment=copy_tiny_transformer"], "+experiment=copy_tiny_transformer"),
    (["--max_steps", "300"], "trainer.max_steps=300"),
])
def test_cli_answers_with_one_teaching_line(tmp_path, args, expected):
    result = run_cli("train", "--cfg", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "schema_" not in lines[0]
