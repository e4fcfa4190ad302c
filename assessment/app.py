"""The Flask application factory.

:func:`create_app` only wires things together; nothing happens at import time.
"""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from assessment.config import PROJECT_ROOT, Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_environment()
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=str(settings.instance_path),
    )
    app.config.update(settings.flask_config())
    app.extensions["cl360.settings"] = settings
    settings.instance_path.mkdir(parents=True, exist_ok=True)

    from assessment import (
        cohort_jobs,  # noqa: F401  (registers its jobs)
        logs,
        runners,
        web,
    )
    from assessment.database import Database
    from assessment.extensions import babel, csrf, limiter
    from assessment.ratelimits import DatabaseStorage  # noqa: F401  (registers its URI scheme)

    database = Database(settings.database_url, lock_timeout=settings.lock_timeout)
    app.extensions["cl360.db"] = database
    runners.install(app, database, settings)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=web.page_locale)
    web.install(app)
    logs.install(app.logger, logging.getLogger("werkzeug"))
    if settings.trusted_proxies:
        proxies = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    from assessment.views import auth, campaign, coach, jobs, leader, rate, reports

    app.register_blueprint(auth.blueprint)
    app.register_blueprint(coach.blueprint)
    app.register_blueprint(campaign.blueprint)
    app.register_blueprint(leader.blueprint)
    app.register_blueprint(rate.blueprint)
    app.register_blueprint(reports.blueprint)
    app.register_blueprint(jobs.blueprint)
    return app
