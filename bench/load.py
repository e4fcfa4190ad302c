"""Benchmark: raters submitting at once, against the same server answering "hello" in the same run.

A fresh PostgreSQL database gets one cohort of leaders and ``--raters`` invitations, each with
its own link. The product then runs under ``gunicorn -w 4`` (``gunicorn.conf.py``) on a loopback
port, and a bounded asyncio client (httpx) keeps ``--concurrency`` raters busy at once, each
doing what a person does: open the form (GET, which sets the session and CSRF token) and submit
every statement answered (POST). The baseline is the same client doing two requests per "rater"
against ``/healthz``, which touches neither the database nor a template, on the same server in
the same run: the figure that counts is the ratio, since the machine is shared and noisy.

Afterwards the database must hold exactly one response per rater, and no request may have
failed. Loopback only; it stops by itself.

Target (issue 8): submissions at >= 0.6x the hello-world rate, 0 errors, exactly N stored.

    .venv/bin/python bench/load.py [--raters 2000] [--concurrency 50] [--workers 4]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, make_url, select, text

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from assessment import migrate  # noqa: E402
from assessment.accounts import create_coach  # noqa: E402
from assessment.cohorts import create_cohort  # noqa: E402
from assessment.config import normalise_database_url  # noqa: E402
from assessment.core.instruments import load_instrument  # noqa: E402
from assessment.database import Database  # noqa: E402
from assessment.invitations import hash_token  # noqa: E402
from assessment.models import (  # noqa: E402
    AccessLink,
    Invitation,
    Leader,
    LinkPurpose,
    Relationship,
    Response,
)
from tests.live import gunicorn  # noqa: E402

INSTRUMENT = PROJECT / "instruments" / "compassionate-leadership.v1.yaml"
RATERS_PER_LEADER = 10
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_SUBMISSION = re.compile(r'name="submission"[^>]*value="([^"]+)"')


def fresh_database(admin_url: str, name: str) -> str:
    """An empty PostgreSQL database ``name`` beside ``admin_url``'s, migrated to the head."""
    admin = Database(admin_url, isolation_level="AUTOCOMMIT")
    with admin.engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def arrange(url: str, raters: int) -> list[str]:
    """One cohort, a leader per ten raters, and a link per rater; returns the links' paths."""
    instrument = load_instrument(INSTRUMENT)
    database = Database(url)
    tokens = [f"load{n:039d}" for n in range(raters)]  # 43 characters, the shape of a token
    with database.transaction() as session:
        coach = create_coach(session, "load@example.org", "a long benchmark password")
        cohort = create_cohort(session, coach, "Load benchmark", instrument)
        leaders = [
            Leader(cohort=cohort, name=f"Leader {n}", email=f"leader{n}@example.org")
            for n in range(max(1, raters // RATERS_PER_LEADER))
        ]
        session.add_all(leaders)
        session.flush()
        invitations = [
            Invitation(leader=leaders[n % len(leaders)], relationship_=Relationship.PEER)
            for n in range(raters)
        ]
        session.add_all(invitations)
        session.flush()
        session.add_all(
            AccessLink(
                token_hash=hash_token(token), invitation_id=invitation.id, purpose=LinkPurpose.SHOWN
            )
            for token, invitation in zip(tokens, invitations, strict=True)
        )
    database.dispose()
    return [f"/r/{token}" for token in tokens]


@dataclass
class Run:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def rate_one(client: httpx.AsyncClient, link: str, answers: dict[str, str]) -> None:
    form = await client.get(link)
    if form.status_code != 200:
        raise RuntimeError(f"GET {form.status_code}")
    data = {
        "csrf_token": _CSRF.search(form.text).group(1),
        "submission": _SUBMISSION.search(form.text).group(1),
        "action": "submit",
        **answers,
    }
    sent = await client.post(link, data=data)
    if sent.status_code != 302 or sent.headers.get("location") != "/r/thanks":
        raise RuntimeError(f"POST {sent.status_code}")


async def hello(client: httpx.AsyncClient, _link: str, _answers: dict[str, str]) -> None:
    for _ in range(2):
        answer = await client.get("/healthz")
        if answer.status_code != 200:
            raise RuntimeError(f"GET /healthz {answer.status_code}")


async def drive(base_url: str, links: list[str], concurrency: int, flow, answers) -> Run:
    """Every link through ``flow``, at most ``concurrency`` at once, each rater a new browser
    (cookies of its own) over a shared pool of keep-alive connections: a new client per rater
    would cost the client more than the server."""
    run = Run()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for link in links:
        queue.put_nowait(link)
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=concurrency))

    async def person() -> None:
        while not queue.empty():
            link = queue.get_nowait()
            # Not closed one by one: closing a client closes the shared transport.
            client = httpx.AsyncClient(base_url=base_url, timeout=60, transport=transport)
            started = time.perf_counter()
            try:
                await flow(client, link, answers)
            except (RuntimeError, httpx.HTTPError) as error:
                run.errors.append(f"{link[:12]}…: {error}")
                continue
            run.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(person() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    await transport.aclose()
    return run


def describe(name: str, run: Run) -> str:
    return (
        f"{name:<8} {len(run.latencies):>5} done, {len(run.errors)} errors, "
        f"{run.rate:7.1f}/s, p50 {run.percentile(0.50) * 1000:6.0f} ms, "
        f"p95 {run.percentile(0.95) * 1000:6.0f} ms, p99 {run.percentile(0.99) * 1000:6.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raters", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--database",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL URL whose server gets the scratch database",
    )
    parser.add_argument("--scratch", default="cl360_bench_load", help="its name (dropped first)")
    args = parser.parse_args(argv)
    url = fresh_database(normalise_database_url(args.database), args.scratch)
    links = arrange(url, args.raters)
    answers = {item.id: str(1 + n % 5) for n, item in enumerate(load_instrument(INSTRUMENT).items)}
    with (
        tempfile.TemporaryDirectory() as folder,
        gunicorn(url, Path(folder), workers=args.workers) as server,
    ):
        baseline = asyncio.run(drive(server.url, links, args.concurrency, hello, answers))
        submitted = asyncio.run(drive(server.url, links, args.concurrency, rate_one, answers))
    database = Database(url)
    with database.session() as session:
        stored = session.scalar(select(func.count()).select_from(Response))
    database.dispose()
    ratio = submitted.rate / baseline.rate if baseline.rate else 0.0
    print(f"{args.raters} raters, {args.concurrency} at once, gunicorn -w {args.workers}")
    print(describe("hello", baseline))
    print(describe("submit", submitted))
    for error in (baseline.errors + submitted.errors)[:5]:
        print(f"  error: {error}")
    print(f"stored {stored} of {args.raters} responses")
    ok = ratio >= 0.6 and not submitted.errors and stored == args.raters
    print(
        f"ratio submit/hello {ratio:.2f}x (target >= 0.6x, 0 errors, exactly N stored): "
        f"{'met' if ok else 'NOT met'}"
    )
    return 0 if stored == args.raters and not submitted.errors else 1


if __name__ == "__main__":
    sys.exit(main())
