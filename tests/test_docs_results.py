"""The commands of the pages that name no README run (docs/results.md), run as written in a fresh
folder of their own: the other half of test_readme.py's check that no page drifts from the tool."""

from __future__ import annotations

import pytest
from test_readme import ALONE, REPO, run_pages_in_a_fresh_folder


@pytest.mark.slow
def test_every_command_of_the_results_page_runs_as_written(tmp_path):
    ran, _, _ = run_pages_in_a_fresh_folder(tmp_path, [REPO / page for page in ALONE])
    assert len(ran) >= 4
