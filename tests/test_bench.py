"""The scoring benchmark runs (a tiny size; the real sizes are for ``bench/scoring.py`` itself)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assessment.config import PROJECT_ROOT
from tests.builders import require_redis


def test_scoring_benchmark_runs_on_a_tiny_cohort(tmp_path):
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "scoring.py"), "--leaders", "20",
         "--repeat", "1", "--keep", str(tmp_path), "--no-command"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "csv/fl" in result.stdout and "target (export <= 2.5x floor" in result.stdout
    assert (tmp_path / "scores-20.csv").stat().st_size > 0


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
    reason="bench/load.py runs on PostgreSQL (the PostgreSQL pass runs it)",
)
def test_load_benchmark_runs_a_few_raters():
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "load.py"), "--raters", "40",
         "--concurrency", "8", "--workers", "2", "--database", os.environ["TEST_DATABASE_URL"],
         "--scratch", f"cl360_bench_load_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stored 40 of 40 responses" in result.stdout and "ratio submit/hello" in result.stdout


def test_jobs_benchmark_runs_a_few_leaders():
    broker = "redis://127.0.0.1:6379/10"
    require_redis(broker, "bench/jobs.py")
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "jobs.py"), "--leaders", "4",
         "--broker", broker],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for figure in ("(a) release all, 4 leaders", "(b) all reports, 5 PDFs", "(c) a repeated"):
        assert figure in result.stdout, result.stdout
