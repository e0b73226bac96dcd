"""Hydra's grammar errors, rewritten to teach: the nearest correct spelling, on one line.

Hydra answers `max_steps=300` with "Key 'max_steps' not in 'Config'" and `model=transfomer`
with a search path and every option including the internal `schema_*` entries. `explain`
recognises those messages and says what to type instead; anything else comes back as it was.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable

# Group choices composed only to validate other files; never something a user picks.
INTERNAL_PREFIX = "schema_"
# Options that come with an optional extra of seqlab (pyproject.toml): missing until it is installed.
EXTRAS = {"hydra/launcher/joblib": "sweep", "hydra/launcher/submitit_local": "cluster",
          "hydra/launcher/submitit_slurm": "cluster"}


def explain(message: str, overrides: list[str], keys: Callable[[], list[str]] | None = None) -> str:
    """A one-line Hydra error (`one_line`'s output) -> the same line, or a teaching one.

    `keys` lists the composed config's dotted keys (called only when a hint needs them).
    """
    keys = keys or (lambda: default_keys(_group_choices(overrides)))
    for rule in (_flag, _unquoted, _missing_option, _unknown_key, _experiment_without_plus, _wrong_type):
        hint = rule(message, overrides, keys)
        if hint:
            return hint
    return message


def _flag(message: str, overrides: list[str], keys: Callable[[], list[str]]) -> str | None:
    """`--max_steps 300`: a flag where Hydra wants `trainer.max_steps=300`."""
    if "LexerNoViableAlt" not in message and "mismatched input" not in message:
        return None
    for i, token in enumerate(overrides):
        if not token.startswith("-"):
            continue
        name, _, value = token.lstrip("-").partition("=")
        if not value and i + 1 < len(overrides) and "=" not in overrides[i + 1]:
            value = overrides[i + 1]
        key = _full_key(name.replace("-", "_"), keys()) or name
        return (f"'{token}' is not a seqlab option; settings are Hydra overrides written key=value: "
                f"{key}={value or '...'}")
    return None


def _unquoted(message: str, overrides: list[str], keys: Callable[[], list[str]]) -> str | None:
    """`hydra.run.dir=/runs/café`: a value with characters Hydra's grammar reads only inside quotes
    (non-ASCII letters, spaces, some punctuation): the override that fails, quoted so that it parses."""
    if "LexerNoViableAlt" not in message and "mismatched input" not in message and "token recognition" not in message:
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for token in overrides:
        key, sep, value = token.partition("=")
        if not sep or not value or _parses(parser, token):
            continue
        quoted = f"{key}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        if _parses(parser, quoted):
            return (f"'{token}': Hydra reads this value only in quotes; write {quoted} "
                    f"(in a shell, inside double quotes: \"{quoted}\")")
    return None


def _parses(parser, override: str) -> bool:
    try:
        parser.parse_override(override)
    except Exception:  # noqa: BLE001 - Hydra's grammar errors have several types
        return False
    return True


def _missing_option(message: str, overrides: list[str], keys: Callable[[], list[str]]) -> str | None:
    """`model=transfomer`: the nearest option, without the internal schema_* entries."""
    found = re.search(r"Could not find '([\w/]+)/([^']+)'", message)
    if not found:
        return None
    group, wrong = found.group(1), found.group(2)
    listed = re.search(r"available: (.*)$", message)
    options = [o for o in (listed.group(1).split(", ") if listed else []) if not o.startswith(INTERNAL_PREFIX)]
    plus = "+" if group == "experiment" else ""
    available = f"(available: {', '.join(options) or 'none'})"
    extra = EXTRAS.get(f"{group}/{wrong}")
    if extra:  # an option whose package is an extra that is not installed
        return f"no {group} '{wrong}': its package is not installed: pip install 'seqlab[{extra}]' {available}"
    near = next((o for o in options if o.lower() == wrong.lower()), None) or _nearest(wrong.lower(), options)
    guess = f": did you mean {plus}{group}={near}?" if near else ""
    return f"no {group} '{wrong}'{guess} {available}"


def _unknown_key(message: str, overrides: list[str], keys: Callable[[], list[str]]) -> str | None:
    """`max_steps=300` (say trainer.max_steps) and `model.hiden_size=128` (say hidden_size)."""
    found = re.search(r"Could not override '([^']+)'.*Key '[^']+' not in '([^']+)'", message)
    if not found:
        return None
    wrong = found.group(1)
    value = next((o.split("=", 1)[1] for o in overrides if o.lstrip("+~").startswith(wrong + "=")), "...")
    every = keys()
    parent = wrong.rpartition(".")[0]
    exact = _full_key(wrong.rpartition(".")[2], every)
    if exact and not parent:  # a key given without its group: max_steps -> trainer.max_steps
        return f"no top-level key '{wrong}': did you mean {exact}={value}?"
    siblings = [k.rpartition(".")[2] for k in every if k.rpartition(".")[0] == parent]
    near = _nearest(wrong.rpartition(".")[2], siblings)  # compare names, not the shared prefix
    if near:
        return f"no key '{wrong}' in the config: did you mean {parent + '.' if parent else ''}{near}={value}?"
    shown = ", ".join(siblings[:30])
    return f"no key '{wrong}' in the config ({parent or 'top level'} has: {shown})"


def _experiment_without_plus(message: str, overrides: list[str], keys: Callable[[], list[str]]) -> str | None:
    """`experiment=NAME`: experiments are added to the defaults list, so they need a `+`."""
    if "Could not override 'experiment'" not in message:
        return None
    name = next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), "NAME")
    return f"an experiment is added with a plus: +experiment={name} (list them with `seqlab experiments`)"


TYPE_WORDS = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false"}


def _wrong_type(message: str, overrides: list[str], keys: Callable[[], list[str]]) -> str | None:
    """`trainer.max_steps=abc`: say what the key takes, not how OmegaConf failed to merge it."""
    found = (re.search(r"Error merging override ([^=\s]+)=.*?Value '(.*)' of type '\w+' could not be "
                       r"converted to (\w+)", message)
             or re.search(r"Error merging override ([^=\s]+)=.*?Value '(.*)' is not a valid (bool)", message))
    if not found:
        return None
    key, value, kind = found.groups()
    kind = "Boolean" if kind == "bool" else kind
    return f"{key}={value}: {key} takes {TYPE_WORDS.get(kind, kind.lower())}, not '{value}'"


def _full_key(tail: str, every: Iterable[str]) -> str | None:
    """The one dotted key ending in `tail` (max_steps -> trainer.max_steps), or None."""
    matches = [k for k in every if k == tail or k.endswith("." + tail)]
    return matches[0] if len(matches) == 1 else None


def _nearest(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _group_choices(overrides: list[str]) -> list[str]:
    """The group picks of an override list (model=lstm, task=copy): they decide which keys exist."""
    return [o for o in overrides if re.fullmatch(r"(model|task|trainer)=[\w.-]+", o)]


def default_keys(choices: list[str] | None = None) -> list[str]:
    """Every dotted key of the config composed from `choices` (else the default one; empty when
    neither composes)."""
    for attempt in (list(choices or []), []):
        keys = _compose_keys(attempt)
        if keys:
            return keys
    return []


def _compose_keys(overrides: list[str]) -> list[str]:
    try:
        from hydra import compose, initialize_config_dir
        from omegaconf import OmegaConf

        from seqlab.config.paths import config_dir
        from seqlab.config.schema import register_configs

        register_configs()
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = OmegaConf.to_container(compose("config", overrides=overrides), resolve=False)
    except Exception:  # a hint is a courtesy: never let it hide the real error
        return []
    return _flatten(cfg)


def _flatten(data: dict, prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out
