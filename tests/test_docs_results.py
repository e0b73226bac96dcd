"""The commands of the pages that name no README run, run as written in fresh folders of their
own: the other half of test_readme.py's check that no page drifts from the tool. Each group is
its own test module's work, so the suite's workers share it (tests/test_docs_studies.py: the
pages of scaling, report and search)."""

from __future__ import annotations

import pytest
from test_readme import REPO, RESULTS_PAGES, run_pages_in_a_fresh_folder


@pytest.mark.slow
def test_every_command_of_the_results_page_runs_as_written(tmp_path):
    ran, _, _ = run_pages_in_a_fresh_folder(tmp_path, [REPO / page for page in RESULTS_PAGES])
    assert len(ran) >= 4
