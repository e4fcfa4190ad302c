"""Configuration in one place: defaults in code, secrets and deployment choices from the environment.

Every setting the product reads lives here, so the rest of the code never touches ``os.environ``.
The README's configuration table is :data:`ENVIRONMENT`, row for row.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: variable name -> (default, meaning), in Markdown: the README's configuration table is exactly
#: these rows (tests/test_architecture.py checks it).
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "DATABASE_URL": (
        "`sqlite:///<instance>/cl360.sqlite3`",
        "SQLAlchemy URL; `postgresql://user@host/db` for PostgreSQL (psycopg 3 is used)",
    ),
    "SECRET_KEY": (
        "random per process (development only)",
        "signs sessions and CSRF tokens; **required** when `CL360_ENV=production`",
    ),
    "CL360_ENV": (
        "`development`",
        "`production` refuses to start without `SECRET_KEY` and sends cookies only over HTTPS",
    ),
    "CL360_INSTANCE": (
        "`<project>/instance`",
        "folder for the SQLite database and other local state",
    ),
    "CL360_INSTRUMENTS": (
        "`<project>/instruments`",
        "folder of questionnaire YAML files offered when creating a cohort",
    ),
    "CL360_BASE_URL": (
        "`http://127.0.0.1:5000`",
        "public address used in invitation links",
    ),
    "CL360_LOCK_TIMEOUT": (
        "`10`",
        'seconds a request waits for a database lock before answering 503 "try again"',
    ),
    "CL360_TRUSTED_PROXIES": (
        "`0`",
        "how many reverse proxies stand in front of the app: their `X-Forwarded-For` / `-Proto` are believed (`docs/operations.md`)",
    ),
    "RATELIMIT_STORAGE_URI": (
        "unset: the product's database",
        "where rate-limit counters live, shared by every worker; `redis://host:6379/1` to keep them in Redis (a database apart from the broker's)",
    ),
    "CL360_BROKER_URL": (
        "unset: jobs run on a thread of the app",
        "Celery broker for long jobs such as releasing every report (`redis://host:6379/0` or `amqp://user:pass@host:5672//`); then `cl360 worker` runs them (`docs/jobs.md`)",
    ),
    "MAIL_SERVER": (
        "unset: mail goes to the in-app outbox",
        'SMTP host for invitations, reminders, leader links and "report ready" mail (`docs/campaigns.md`)',
    ),
    "MAIL_PORT": (
        "`587`",
        "SMTP port",
    ),
    "MAIL_USERNAME": (
        "unset",
        "SMTP login name (the server is logged in to only when it is set)",
    ),
    "MAIL_PASSWORD": (
        "unset",
        "SMTP password",
    ),
    "MAIL_USE_TLS": (
        "`true`",
        "STARTTLS on the SMTP connection",
    ),
    "MAIL_USE_SSL": (
        "`false`",
        "TLS from the first byte (usually port 465) instead of STARTTLS",
    ),
    "MAIL_FROM": (
        "`cl360@localhost`",
        "sender address of outgoing mail",
    ),
    "MAIL_TIMEOUT": (
        "`30`",
        "seconds to wait for the SMTP server",
    ),
}


class ConfigurationError(RuntimeError):
    """A setting is missing or unsafe for the environment the app is started in."""


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings; with no ``server`` every message goes to the in-app outbox instead."""

    server: str = ""
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    use_tls: bool = True
    use_ssl: bool = False
    sender: str = "cl360@localhost"
    timeout: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.server)


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    """The resolved configuration of one app instance."""

    database_url: str
    secret_key: str
    instance_path: Path
    instruments_path: Path
    base_url: str = "http://127.0.0.1:5000"
    production: bool = False
    lock_timeout: float = 10.0
    ratelimit_storage_uri: str = ""
    trusted_proxies: int = 0
    broker_url: str = ""
    mail: MailSettings = field(default_factory=MailSettings)
    testing: bool = False

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        production = env.get("CL360_ENV", "development") == "production"
        secret_key = env.get("SECRET_KEY", "")
        if not secret_key:
            if production:
                raise ConfigurationError("SECRET_KEY must be set when CL360_ENV=production")
            secret_key = secrets.token_hex(32)
        instance_path = Path(env.get("CL360_INSTANCE", PROJECT_ROOT / "instance"))
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'cl360.sqlite3'}"
        return cls(
            database_url=normalise_database_url(database_url),
            secret_key=secret_key,
            instance_path=instance_path,
            instruments_path=Path(env.get("CL360_INSTRUMENTS", PROJECT_ROOT / "instruments")),
            base_url=env.get("CL360_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            production=production,
            lock_timeout=float(env.get("CL360_LOCK_TIMEOUT", "10")),
            ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", ""),
            trusted_proxies=int(env.get("CL360_TRUSTED_PROXIES", "0")),
            broker_url=env.get("CL360_BROKER_URL", ""),
            mail=MailSettings(
                server=env.get("MAIL_SERVER", ""),
                port=int(env.get("MAIL_PORT", "587")),
                username=env.get("MAIL_USERNAME", ""),
                password=env.get("MAIL_PASSWORD", ""),
                use_tls=_flag(env.get("MAIL_USE_TLS", "true")),
                use_ssl=_flag(env.get("MAIL_USE_SSL", "false")),
                sender=env.get("MAIL_FROM", "cl360@localhost"),
                timeout=float(env.get("MAIL_TIMEOUT", "30")),
            ),
        )

    def flask_config(self) -> dict[str, Any]:
        return {
            "SECRET_KEY": self.secret_key,
            "TESTING": self.testing,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.production,
            "WTF_CSRF_TIME_LIMIT": 3600,
            # Pages send no Referer (a rater's link must never leak through one), so Flask-WTF's
            # Referer check over HTTPS would refuse every form; the signed form token and the
            # SameSite session cookie are the guard (docs/operations.md, "Sessions").
            "WTF_CSRF_SSL_STRICT": False,
            **self._ratelimit_config(),
            "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
            "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "assessment" / "translations"),
            "BABEL_DEFAULT_LOCALE": "en",
        }

    def _ratelimit_config(self) -> dict[str, Any]:
        """Flask-Limiter's settings: counters in the database unless a storage is named."""
        shared = {
            "RATELIMIT_ENABLED": not self.testing,
            # A storage outage must not refuse people; the request then meets the real error.
            "RATELIMIT_SWALLOW_ERRORS": True,
        }
        if self.ratelimit_storage_uri:
            return {**shared, "RATELIMIT_STORAGE_URI": self.ratelimit_storage_uri}
        return {
            **shared,
            "RATELIMIT_STORAGE_URI": "cl360-database://",
            "RATELIMIT_STORAGE_OPTIONS": {
                "database_url": self.database_url,
                "lock_timeout": self.lock_timeout,
            },
        }


def normalise_database_url(url: str) -> str:
    """Let people paste the URL their host gives them; we always talk to PostgreSQL via psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
