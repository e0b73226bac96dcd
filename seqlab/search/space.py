"""The search space: config keys and their ranges, in the Optuna sweeper's syntax.

    trainer.lr='tag(log, interval(1e-4, 1e-2))'   a float, sampled on a log scale
    trainer.warmup_steps='interval(0, 50)'          an int (both ends ints)
    model.n_embd='choice(16, 32, 64)'               one of these values (also: 16,32,64)
    trainer.batch_size='range(16, 64, step=16)'     an int on this grid

The ranges come from the composed config's `hydra.sweeper.params` (a search config such as
conf/search/copy_lr.yaml) and from the command line (which wins); a plain override of a key
(`trainer.lr=0.01`) takes it out of the space. Every other override is given to every trial.
The conversion to Optuna distributions is the plugin's own (hydra-optuna-sweeper), so both
ways of searching read a range the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from seqlab.errors import SeqlabError

KNOWN_TAGS = {"log"}
"""The tags the sweeper reads on an interval (an int range is one whose ends are ints)."""


@dataclass
class SearchSpace:
    """Searched keys with their ranges, and the overrides every trial gets."""

    params: dict[str, str]
    """Config key -> range expression, e.g. `trainer.lr` -> `tag(log, interval(1e-4, 1e-2))`."""
    fixed: list[str]
    """The command line's other overrides, as given."""

    def distributions(self) -> dict[str, Any]:
        """Config key -> the Optuna distribution of its range."""
        return {key: distribution(key, expression) for key, expression in self.params.items()}


def parse_overrides(overrides: list[str]) -> list[Any]:
    """Hydra's parsed overrides; a grammar mistake is one line naming the override."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = []
    for override in overrides:
        try:
            parsed.append(parser.parse_override(override))
        except Exception as err:  # Hydra's grammar and sweep-function errors
            raise SeqlabError(f"search space: '{override}': {first_line(err)}") from None
    return parsed


def read_space(overrides: list[str], config_params: dict[str, str]) -> SearchSpace:
    """The space of the config's `hydra.sweeper.params` and the command line's sweep overrides."""
    params = {str(k): str(v) for k, v in config_params.items()}
    fixed = []
    for override, parsed in zip(overrides, parse_overrides(overrides)):
        key = parsed.get_key_element()
        if parsed.is_sweep_override():
            params[key] = override.split("=", 1)[1]
        else:
            params.pop(key, None)  # a plain value on the command line beats a configured range
            fixed.append(override)
    if not params:
        raise SeqlabError("search space is empty: give ranges such as 'trainer.lr=tag(log, interval(1e-4, 1e-2))' "
                          "or 'model.n_embd=choice(16,32)', or a search config with hydra.sweeper.params "
                          "(+search=copy_lr)")
    space = SearchSpace(params, fixed)
    space.distributions()  # every range parses, or one line says which does not
    return space


def distribution(key: str, expression: str) -> Any:
    """The Optuna distribution of `key=expression`, or one line saying why there is none."""
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override

    (parsed,) = parse_overrides([f"{key}={expression}"])
    if not parsed.is_sweep_override():
        raise SeqlabError(f"search space: '{key}: {expression}' is one value, not a range; write "
                          "interval(a, b), tag(log, interval(a, b)), choice(a, b, ...) or range(a, b)")
    tags = set(parsed.value().tags) - KNOWN_TAGS if parsed.is_interval_sweep() else set()
    if tags:
        raise SeqlabError(f"search space: '{key}={expression}': tag {', '.join(sorted(tags))} means nothing "
                          f"to Optuna's sweeper (known: {', '.join(sorted(KNOWN_TAGS))})")
    try:
        return create_optuna_distribution_from_override(parsed)
    except Exception as err:  # NotImplementedError (a glob), AssertionError (a choice of lists), ...
        raise SeqlabError(f"search space: '{key}={expression}' is no range Optuna can sample "
                          f"({first_line(err) or type(err).__name__})") from None


def first_line(err: BaseException) -> str:
    return next((line.strip() for line in str(err).splitlines() if line.strip()), "")


def format_value(value: Any) -> str:
    """A sampled value as a Hydra override writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def trial_overrides(params: dict[str, Any]) -> list[str]:
    return [f"{key}={format_value(value)}" for key, value in params.items()]


def corners(space: SearchSpace) -> Iterator[dict[str, Any]]:
    """Assignments that touch every end of every range and every choice: what is composed and
    checked before any trial runs."""
    from optuna.distributions import CategoricalDistribution

    ends = {key: list(d.choices) if isinstance(d, CategoricalDistribution) else [d.low, d.high]
            for key, d in space.distributions().items()}
    for i in range(max(len(values) for values in ends.values())):
        yield {key: values[min(i, len(values) - 1)] for key, values in ends.items()}
