"""The product under a real gunicorn, and browsers that talk to it over loopback.

For the tests that only mean something with several server processes at once: double clicks,
several raters on one link, a background save racing a submit. The server runs the same
``wsgi:app`` as production, against the test database, and stops when the test ends.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from assessment.config import PROJECT_ROOT

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class LiveServer:
    url: str
    log: Path


@contextmanager
def gunicorn(
    database_url: str, instance: Path, *, workers: int = 4, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """``gunicorn -w N wsgi:app`` on a free loopback port, ready when this yields."""
    port = free_port()
    log = instance / "gunicorn.log"
    instance.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "live server secret",
        "CL360_INSTANCE": str(instance),
        "CL360_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--config",
                str(PROJECT_ROOT / "gunicorn.conf.py"),
                "wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process, log)
        yield LiveServer(url, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not start within a minute:\n{log.read_text()}")


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_SUBMISSION = re.compile(r'name="submission"[^>]*value="([^"]+)"')


class Browser:
    """One person's browser: its own cookies and its own connection to the server."""

    def __init__(self, server: LiveServer) -> None:
        self.client = httpx.Client(base_url=server.url, timeout=60, follow_redirects=False)

    def open_form(self, path: str) -> dict[str, str]:
        """GET a questionnaire and return the hidden fields a real browser would send back."""
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        fields = {"csrf_token": _CSRF.search(page.text).group(1)}
        if submission := _SUBMISSION.search(page.text):
            fields["submission"] = submission.group(1)
        return fields

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.client.post(path, data=data)

    def close(self) -> None:
        self.client.close()


def at_once(actions: Sequence[Callable[[], T]]) -> list[T]:
    """Run every action in its own thread, released together by a barrier, and return each
    result in order: requests that leave the client within a millisecond of each other."""
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], T]) -> T:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))
