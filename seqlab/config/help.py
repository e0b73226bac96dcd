"""`seqlab train --help-config [GROUP]`: every config key with its type, default and one line.

The lines come from the schema dataclasses Hydra validates the config against (schema.py,
seqlab/tasks/config.py, each family's models/<family>/config.py): a field's docstring (the
string under it) is its documentation, read from the source, so it is written once. The
default is the composed config's value, so `--help-config model model=lstm` shows the LSTM
preset's values, not the dataclass's.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

GROUPS = ("model", "task", "trainer", "logger", "top")
"""What `--help-config GROUP` takes; `top` is the keys outside the groups (device, seed, ...)."""
NOT_TOP = {"model", "task", "trainer", "logger", "reference"}


@dataclasses.dataclass
class KeyDoc:
    key: str
    type: str
    default: str
    doc: str


@cache
def field_docs(cls: type) -> dict[str, tuple[str, str]]:
    """{field: (annotation, first sentence of its docstring)} of a dataclass and its bases."""
    out: dict[str, tuple[str, str]] = {}
    for klass in reversed(cls.__mro__):  # a subclass's docstring wins over its base's
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, [*body[1:], None]):
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            doc = after.value.value if (isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                                        and isinstance(after.value.value, str)) else ""
            previous = out.get(node.target.id, ("", ""))[1]
            out[node.target.id] = (ast.unparse(node.annotation), first_sentence(doc) or previous)
    return out


def first_sentence(doc: str) -> str:
    text = " ".join(doc.split())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", text, maxsplit=1)[0]


def shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value) if value == "" or value != value.strip() else value
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def group_keys(schema: type, values: dict[str, Any], prefix: str, skip: set[str] = frozenset()) -> list[KeyDoc]:
    """One KeyDoc per field of `schema` (in its order), defaults from the composed `values`."""
    docs = field_docs(schema)
    rows = []
    for f in dataclasses.fields(schema):
        if f.name in skip:
            continue
        annotation, doc = docs.get(f.name, ("", ""))
        rows.append(KeyDoc(prefix + f.name, annotation or getattr(f.type, "__name__", str(f.type)),
                           shown(values.get(f.name)), doc))
    return rows


def sections(cfg: Any) -> dict[str, tuple[str, list[KeyDoc]]]:
    """GROUP -> (heading, keys) for the composed config `cfg`."""
    from omegaconf import OmegaConf

    from seqlab.config.loggers import LOGGER_SCHEMAS
    from seqlab.config.schema import Config, TrainerConfig
    from seqlab.registry import model_spec, task_spec

    values = OmegaConf.to_container(cfg, resolve=False)
    model, task = cfg.model.name, cfg.task.name
    out = {
        "model": (f"model: {model} (model=NAME picks the family; model.KEY=VALUE sets a key)",
                  group_keys(model_spec(model).config, values["model"], "model.")),
        "task": (f"task: {task} (task=NAME picks the task; task.KEY=VALUE sets a key)",
                 group_keys(task_spec(task).config, values["task"], "task.")),
        "trainer": ("trainer (conf/trainer/default.yaml; trainer.KEY=VALUE)",
                    group_keys(TrainerConfig, values["trainer"], "trainer.")),
        "top": ("top-level keys (KEY=VALUE)", group_keys(Config, values, "", skip=NOT_TOP)),
    }
    chosen = values.get("logger") or {}
    rows = [r for name in chosen if name in LOGGER_SCHEMAS
            for r in group_keys(LOGGER_SCHEMAS[name], chosen[name], f"logger.{name}.")]
    out["logger"] = (f"logger: {', '.join(chosen) or 'none chosen'} (logger=[{', '.join(LOGGER_SCHEMAS)}] "
                     "adds trackers; their keys show once chosen)", rows)
    return out


def print_config_help(overrides: list[str], groups: list[str], config_dirs: list[Path] | None = None) -> None:
    """Print the keys of `groups` (default: every group) of the config `overrides` compose:
    `key: type = default`, then what it does on the next line (indented, wrapped to the terminal)."""
    import shutil

    from seqlab.config.compose import compose

    wrong = [g for g in groups if g not in GROUPS]
    if wrong:
        raise SeqlabError(f"--help-config takes a group: {', '.join(GROUPS)}; got '{wrong[0]}' "
                          "(overrides are written key=value)")
    found = sections(compose(overrides, config_dirs))
    width = max(shutil.get_terminal_size().columns, 40)
    for group in groups or GROUPS:
        heading, rows = found[group]
        print(heading)
        for row in rows:
            print(f"  {row.key}: {row.type} = {row.default}")
            if row.doc:
                print(textwrap.fill(row.doc, width - 1, initial_indent=" " * 6, subsequent_indent=" " * 6))
        print()
