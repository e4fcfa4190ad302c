"""The scoring benchmark runs (a tiny size; the real sizes are for ``bench/scoring.py`` itself)."""

from __future__ import annotations

import subprocess
import sys

from assessment.config import PROJECT_ROOT


def test_scoring_benchmark_runs_on_a_tiny_cohort(tmp_path):
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "scoring.py"), "--leaders", "20",
         "--repeat", "1", "--keep", str(tmp_path), "--no-command"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "csv/fl" in result.stdout and "target (export <= 3x floor" in result.stdout
    assert (tmp_path / "scores-20.csv").stat().st_size > 0
