"""Rate limits that stop guessers and never the people the product is for, counted the same
by every gunicorn worker (docs/operations.md, "Rate limits")."""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assessment.cohorts import add_leader, create_cohort
from assessment.invitations import create_invitation, new_link
from assessment.models import LinkPurpose, Relationship
from tests.builders import COACH_EMAIL, COACH_PASSWORD
from tests.live import Browser, LiveServer, gunicorn

PROXIED = {"CL360_TRUSTED_PROXIES": "1"}


def redis_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["database", "redis"])
def server(request, migrated: str, app, tmp_path: Path) -> Iterator[LiveServer]:
    env = dict(PROXIED)
    if request.param == "redis":
        if not redis_running():
            if os.environ.get("CI"):  # .ci/run starts one: its absence there is a failure
                pytest.fail("no Redis server on 127.0.0.1:6379")
            pytest.skip("no Redis server on 127.0.0.1:6379")
        import redis

        # A Redis database of this test process's own: parallel test processes never share.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
        number = 15 - int(worker or 0) % 8
        redis.Redis(host="127.0.0.1", port=6379, db=number).flushdb()
        env["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:6379/{number}"
    with gunicorn(migrated, tmp_path / "live", workers=2, env=env) as live:
        yield live


def sign_in(server: LiveServer, email: str, password: str, address: str) -> int:
    browser = Browser(server)
    fields = browser.open_form("/login")
    response = browser.client.post(
        "/login",
        data={**fields, "email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )
    browser.close()
    if response.status_code == 429:
        assert "Too many tries" in response.text and response.headers["Retry-After"] == "60"
    return response.status_code


def test_sign_in_failures_are_counted_per_account_across_workers(server, coach):
    codes = Counter(sign_in(server, COACH_EMAIL, "wrong", "198.51.100.7") for _ in range(14))
    assert codes == {401: 10, 429: 4}
    # The account stays shut for now, even with the right password and from elsewhere.
    assert sign_in(server, COACH_EMAIL, COACH_PASSWORD, "203.0.113.9") == 429


def test_guesses_from_many_addresses_are_stopped_by_the_account_limit(server, coach):
    codes = Counter(
        sign_in(server, COACH_EMAIL, f"guess {n}", f"198.51.100.{n}") for n in range(1, 31)
    )
    assert codes == {401: 10, 429: 20}


def test_one_address_trying_many_accounts_is_stopped(server, coach):
    codes = Counter(
        sign_in(server, f"someone{n}@example.org", "wrong", "198.51.100.50") for n in range(33)
    )
    assert codes == {401: 30, 429: 3}
    # Another coach at another address signs in as usual.
    assert sign_in(server, COACH_EMAIL, COACH_PASSWORD, "203.0.113.10") == 302


def test_a_successful_sign_in_costs_nothing(server, coach):
    codes = Counter(sign_in(server, COACH_EMAIL, COACH_PASSWORD, "198.51.100.8") for _ in range(14))
    assert codes == {302: 14}


@pytest.fixture
def many_links(database, coach, instrument) -> list[str]:
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "One trust", instrument)
        leaders = [
            add_leader(s, cohort, f"Leader {n}", f"leader{n}@nhs.example") for n in range(10)
        ]
        links = []
        for n in range(150):
            invitation = create_invitation(s, leaders[n % 10], Relationship.PEER, actor="t")
            links.append("/r/" + new_link(s, invitation, LinkPurpose.SHOWN, actor="t"))
        return links


def test_150_raters_behind_one_address_are_never_refused(server, many_links, instrument):
    one_trust = {"X-Forwarded-For": "192.0.2.1"}
    codes: Counter[int] = Counter()
    answers = {item.id: "4" for item in instrument.items}
    for link in many_links:
        browser = Browser(server)
        browser.client.headers.update(one_trust)
        fields = browser.open_form(link)
        codes[browser.post(link, {**fields, **answers, "action": "submit"}).status_code] += 1
        browser.close()
    assert codes == {302: 150}


def test_guessed_links_are_limited_per_address_and_real_raters_there_are_not(server, many_links):
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-For": "192.0.2.2"}) as guesser:
        codes = Counter(guesser.get(f"/r/{'x' * 42}{n % 10}").status_code for n in range(34))
        assert codes == {404: 30, 429: 4}
        assert guesser.get(many_links[0]).status_code == 200  # a real link from that address
        assert guesser.get(f"/l/{'y' * 43}").status_code == 429  # one budget for all links
