"""Benchmark: ``cl360 scores export`` against a plain SQL floor, at growing cohort sizes.

For each size a fresh SQLite file gets one cohort on the default instrument with N leaders,
each rated by themselves and 12 observers (1 manager, 4 peers, 4 direct reports, 3 others),
imported through the real CSV importer (:func:`assessment.imports.import_responses`, which
writes exactly what a web submission writes). Then, alternating, best of ``--repeat``:

* floor: one plain ``GROUP BY`` averaging the answers per leader, relationship and item,
  fetched in full, in the same database;
* export: :func:`assessment.disclosures.scores` (what ``cl360 scores export`` and the coach's
  download call) writing CSV and JSON files: the ledger's decision, reading, scoring, norms,
  agreement types, profile assignment, writing and storing the artefact, in this process;
  then the stored CSV served again ("again");
* the command itself, ``cl360 scores export --format csv``, as a child process, end to end
  (interpreter and app start-up included), with the child's peak resident memory from ``wait4``.

Profiles are fitted and stored once after the import (``cl360 profiles fit``, timed on its
own), as a coach would; the export then assigns leaders to the stored model.

Targets: export within 2.5x the floor (issue 9, with the disclosure ledger in place), peak memory
under 1.5 GB, time linear in N.

    .venv/bin/python bench/scoring.py [--leaders 1000,3000,10000] [--repeat 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, insert, select

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from assessment import migrate  # noqa: E402
from assessment.accounts import create_coach  # noqa: E402
from assessment.cohorts import close_cohort, create_cohort  # noqa: E402
from assessment.core.instruments import Instrument, load_instrument  # noqa: E402
from assessment.database import Database  # noqa: E402
from assessment.disclosures import content_of, scores  # noqa: E402
from assessment.imports import import_responses  # noqa: E402
from assessment.models import Artefact, Cohort, Leader  # noqa: E402
from assessment.results import fit_profile_model  # noqa: E402

INSTRUMENT = PROJECT / "instruments" / "compassionate-leadership.v1.yaml"
OBSERVERS = ["manager"] + ["peer"] * 4 + ["direct_report"] * 4 + ["other"] * 3
NOT_ABLE_TO_RATE = 0.04
FLOOR_SQL = """
    SELECT r.leader_id, r.relationship, a.item_id, AVG(a.value)
    FROM answer AS a
    JOIN response AS r ON r.id = a.response_id
    JOIN leader AS l ON l.id = r.leader_id
    WHERE l.cohort_id = ?
    GROUP BY r.leader_id, r.relationship, a.item_id
"""
CL360 = PROJECT / ".venv" / "bin" / "cl360"
GB = 1024**3
TARGET = 2.5


def synthetic_csv(instrument: Instrument, leaders: int, seed: int = 360) -> bytes:
    """One row per rater: a true level per leader and dimension, self bias, rater leniency."""
    rng = random.Random(seed)
    items = instrument.items
    points = instrument.scale.points
    questions = [q.id for q in instrument.open_questions]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["leader", "relationship", *(i.id for i in items), *questions])
    for number in range(leaders):
        level = {d.id: min(4.7, max(1.8, rng.gauss(3.6, 0.5))) for d in instrument.dimensions}
        bias = rng.gauss(0.2, 0.5)
        for relationship in ["self", *OBSERVERS]:
            shift = bias if relationship == "self" else rng.gauss(0, 0.3)
            row = [f"leader{number}@example.org", relationship]
            for item in items:
                if relationship != "self" and rng.random() < NOT_ABLE_TO_RATE:
                    row.append("")
                    continue
                value = round(level[item.dimension] + shift + rng.gauss(0, 0.7))
                value = min(points, max(1, value))
                row.append(str(points + 1 - value if item.reverse else value))
            comment = "Listens before deciding." if rng.random() < 0.1 else ""
            writer.writerow([*row, comment, *[""] * (len(questions) - 1)])
    return out.getvalue().encode()


def build(folder: Path, leaders: int) -> tuple[str, str, float, float]:
    """A fresh database with the cohort imported and profiles fitted; returns its URL, the
    slug, and the seconds the import and the fit took."""
    path = folder / f"bench-{leaders}.sqlite3"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    instrument = load_instrument(INSTRUMENT)
    database = Database(url)
    with database.transaction() as session:
        coach = create_coach(session, "bench@example.org", "a long benchmark password")
        cohort = create_cohort(session, coach, f"Benchmark {leaders}", instrument)
        # Setup shortcut: leaders in one bulk insert rather than one audited add each.
        session.execute(
            insert(Leader),
            [
                {"cohort_id": cohort.id, "name": f"Leader {n}", "email": f"leader{n}@example.org"}
                for n in range(leaders)
            ],
        )
        slug = cohort.slug
    data = synthetic_csv(instrument, leaders)
    started = time.perf_counter()
    with database.transaction() as session:
        cohort = session.merge(cohort)
        import_responses(session, cohort, data, actor="bench")
    imported = time.perf_counter() - started
    started = time.perf_counter()
    with database.transaction() as session:
        fit_profile_model(session, session.merge(cohort))
    fitted = time.perf_counter() - started
    with database.transaction() as session:
        close_cohort(session, session.merge(cohort), "bench")  # figures leave closed cohorts only
    database.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("ANALYZE")
    return url, slug, imported, fitted


def floor(url: str) -> float:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        started = time.perf_counter()
        rows = connection.execute(FLOOR_SQL, (1,)).fetchall()
        elapsed = time.perf_counter() - started
    assert rows, "the floor query found no answers"
    return elapsed


def export_in_process(url: str, slug: str, fmt: str, out: Path) -> tuple[float, float]:
    """Seconds the scores export takes to be made and written to a file, through the disclosure
    ledger as every export goes; then seconds to serve it again from the ledger's store.

    Stored exports are deleted first, so every run makes the export afresh.
    """
    database = Database(url)
    try:
        with database.transaction() as session:
            session.execute(delete(Artefact))

        def once() -> float:
            started = time.perf_counter()
            with database.transaction() as session:
                cohort = session.scalars(select(Cohort).where(Cohort.slug == slug)).one()
                out.write_bytes(content_of(scores(session, cohort, fmt, actor="bench")))
            return time.perf_counter() - started

        return once(), once()
    finally:
        database.dispose()


def export_command(url: str, slug: str, out: Path) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of one ``cl360 scores export`` child process."""
    env = dict(os.environ, DATABASE_URL=url, CL360_INSTANCE=str(out.parent))
    command = [
        str(CL360),
        "scores",
        "export",
        "--cohort",
        slug,
        "--format",
        "csv",
        "--out",
        str(out),
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        message = child.stderr.read().decode() if child.stderr else ""
        raise SystemExit(f"cl360 scores export failed: {message}")
    return elapsed, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaders", default="1000,3000,10000")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--keep", type=Path, help="keep the databases and exports here")
    parser.add_argument(
        "--no-command", action="store_true", help="skip the child-process run (smoke tests)"
    )
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.leaders.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="cl360-bench-")) if args.keep is None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for leaders in sizes:
            url, slug, imported, fitted = build(folder, leaders)
            runs: dict[str, list[float]] = {
                "floor": [],
                "csv": [],
                "json": [],
                "again": [],
                "command": [],
            }
            peak = 0
            for _ in range(args.repeat):
                runs["floor"].append(floor(url))
                for fmt in ("csv", "json"):
                    made, again = export_in_process(
                        url, slug, fmt, folder / f"scores-{leaders}.{fmt}"
                    )
                    runs[fmt].append(made)
                    if fmt == "csv":
                        runs["again"].append(again)
                if args.no_command:
                    runs["command"].append(math.nan)
                    continue
                seconds, rss = export_command(url, slug, folder / f"command-{leaders}.csv")
                runs["command"].append(seconds)
                peak = max(peak, rss)
            best = {name: min(times) for name, times in runs.items()}
            results.append((leaders, imported, fitted, best, peak))
            print(f"{leaders} leaders: {best}", file=sys.stderr)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{'leaders':>7} {'import':>7} {'fit':>6} {'floor':>6} {'csv':>6} {'json':>6} "
        f"{'again':>6} {'command':>7} {'csv/fl':>6} {'json/fl':>7} {'cmd/fl':>6} "
        f"{'csv s/1k':>8} {'peak MB':>7}"
    )
    for leaders, imported, fitted, best, peak in results:
        print(
            f"{leaders:>7} {imported:>7.1f} {fitted:>6.1f} {best['floor']:>6.2f} "
            f"{best['csv']:>6.2f} {best['json']:>6.2f} {best['again']:>6.2f} "
            f"{best['command']:>7.2f} "
            f"{best['csv'] / best['floor']:>6.2f} {best['json'] / best['floor']:>7.2f} "
            f"{best['command'] / best['floor']:>6.2f} {best['csv'] / leaders * 1000:>8.2f} "
            f"{peak / 2**20:>7.0f}"
        )
    worst = max(max(b["csv"], b["json"]) / b["floor"] for _, _, _, b, _ in results)
    heaviest = max(peak for *_, peak in results)
    met = worst <= TARGET and heaviest < 1.5 * GB
    print(
        f"seconds, best of {args.repeat}; floor = one SQL GROUP BY; csv/json = the export made "
        "and stored through the disclosure ledger, in process; again = the stored CSV served "
        "again; command = cl360 scores export as a child process (start-up included)"
    )
    print(
        f"target (export <= {TARGET}x floor, peak < 1.5 GB): {'met' if met else 'NOT met'} "
        f"(worst in-process ratio {worst:.2f}, peak {heaviest / 2**20:.0f} MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
