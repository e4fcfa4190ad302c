"""A job's items in local worker processes: ``cl360 reports build`` (docs/reports.md, "Batches").

The command records a :data:`~assessment.cohort_jobs.BUILD_REPORTS` job like the coach's "All
reports (ZIP)" button, starts it here (:func:`assessment.jobs.start` lists its items), and has
a pool of worker processes do the items with :func:`assessment.jobs.run_item`, the function a
Celery worker calls: the same code, the same ledger, the same exactly-once guarantee. Each
outcome is reported as it arrives; an item that fails is recorded on the job with its reason
and the others still finish. The PDFs are then written out from the ledger's store.

Workers are started with ``spawn`` (no forked copies of the parent's connections or locks).
Each opens its own :class:`~assessment.database.Database` from the URL in its initializer (a
SQLAlchemy engine is never shared across processes). Only plain values cross between
processes: the URL, the settings, the job's and items' ids, and each outcome.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from assessment import jobs
from assessment.config import Settings
from assessment.database import Database


@dataclass(frozen=True)
class Outcome:
    """How one item went in the process that did it."""

    item_id: int
    seconds: float
    worker_peak_mb: float
    """The worker process's own peak resident memory so far (see :func:`_peak_mb`)."""
    crashed: str | None = None
    """Why the worker process itself died (killed, out of memory), if it did."""


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    elapsed: float = 0.0
    processes: int = 1

    @property
    def peak_worker_mb(self) -> float:
        return max((o.worker_peak_mb for o in self.outcomes), default=0.0)


def run_items(
    database: Database,
    settings: Settings,
    job_id: int,
    items: Sequence[int],
    processes: int | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> BatchResult:
    """Do the started job's ``items`` in ``processes`` workers (default: one per core)."""
    processes = max(1, min(processes or os.cpu_count() or 1, len(items) or 1))
    result = BatchResult(processes=processes)
    started = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(database.url, settings),
    ) as pool:
        futures: dict[Future[Outcome], int] = {
            pool.submit(do_item, job_id, item_id): item_id for item_id in items
        }
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as error:  # the worker itself died: the item's problem is that
                crash = _describe(error)
                outcome = Outcome(futures[future], 0.0, 0.0, crashed=crash)
                jobs.item_failed(database, settings, job_id, outcome.item_id, crash)
            result.outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    result.elapsed = time.perf_counter() - started
    return result


# -- inside a worker ----------------------------------------------------------------------

_worker: tuple[Database, Settings] | None = None


def start_worker(database_url: str, settings: Settings) -> None:
    """Pool initializer: this process's own engine, and the kinds of job it may be given (a
    spawned process has imported nothing of the parent's)."""
    import assessment.cohort_jobs  # noqa: F401  (registers the kinds)

    global _worker
    _worker = (Database(database_url), settings)


def do_item(job_id: int, item_id: int) -> Outcome:
    """Do one item of the job; its problems, if any, are recorded on the job row."""
    if _worker is None:
        raise RuntimeError("do_item runs in a worker started with start_worker")
    started = time.perf_counter()
    jobs.run_item(*_worker, job_id, item_id)
    return Outcome(item_id, time.perf_counter() - started, _peak_mb())


def _peak_mb() -> float:
    """This worker's own peak resident memory, in MB.

    Linux's ``ru_maxrss`` keeps, across the exec that starts a spawned worker, the peak of the
    process it was forked from, so a worker started by a large process (a test runner, a web
    worker) would seem as large as its parent. ``VmHWM`` counts only this process's memory.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # not Linux: the portable figure, in kilobytes on most systems
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
