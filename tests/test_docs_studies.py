"""The commands of the pages on studies over runs (docs/report.md, docs/scaling.md,
docs/search.md), run as written in a fresh folder of their own; see tests/test_docs_results.py."""

from __future__ import annotations

import pytest
from test_readme import REPO, STUDY_PAGES, run_pages_in_a_fresh_folder


@pytest.mark.slow
def test_every_command_of_the_study_pages_runs_as_written(tmp_path):
    ran, _, _ = run_pages_in_a_fresh_folder(tmp_path, [REPO / page for page in STUDY_PAGES])
    assert len(ran) >= 6
