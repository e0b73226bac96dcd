"""The experiments of conf/experiment/ (and the user's config dirs), each with its one-line summary."""

from __future__ import annotations

from pathlib import Path

from seqlab.config.paths import config_dir, user_config_dirs


def experiment_summaries() -> list[tuple[str, str]]:
    """(name, summary) per experiment file, a user's file shadowing a bundled one of the same name.

    The summary is the file's first comment line after `# @package _global_`: each experiment
    file opens with a sentence saying what it compares.
    """
    found: dict[str, Path] = {}
    for folder in [config_dir(), *reversed(user_config_dirs())]:  # later wins: users over bundled
        for path in sorted((folder / "experiment").glob("*.yaml")):
            found[path.stem] = path
    return [(name, _summary(path)) for name, path in sorted(found.items())]


def _summary(path: Path) -> str:
    """The first sentence of the file's opening comment (which may wrap over several lines)."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.lstrip("#").strip()
        if not line.startswith("#") or text.startswith("Run:"):
            break
        if not text.startswith("@package"):
            words.append(text)
    comment = " ".join(words)
    end = comment.find(". ")
    return comment if end < 0 else comment[: end + 1]
