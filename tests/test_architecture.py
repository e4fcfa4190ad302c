"""Properties of the code base itself: the domain core stays free of Flask, the factory is wired."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assessment.app import create_app
from assessment.config import ConfigurationError, Settings

CORE_MODULES = ["assessment.instruments", "assessment.scoring", "reports.build", "reports.render"]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_domain_core_imports_no_flask(module: str):
    code = f"import sys, {module}; print(any(m == 'flask' or m.startswith('flask.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_app_and_the_cli_start_without_weasyprint_or_scikit_learn():
    """Each takes most of a second to import; only printing a PDF and fitting profiles need
    them, so a cron job sending reminders, or any page, does not wait for them."""
    code = (
        "import sys, assessment.cli; from assessment.app import create_app; create_app(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'weasyprint', 'sklearn'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings.from_environment({"CL360_ENV": "production"})
    settings = Settings.from_environment({"CL360_ENV": "production", "SECRET_KEY": "x" * 40})
    assert settings.production and settings.flask_config()["SESSION_COOKIE_SECURE"]


def test_database_url_from_the_environment_is_normalised_for_psycopg():
    settings = Settings.from_environment({"DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    default = Settings.from_environment({"CL360_INSTANCE": "/srv/cl360"})
    assert default.database_url == "sqlite:////srv/cl360/cl360.sqlite3"


def test_factory_takes_its_settings(settings):
    app = create_app(settings)
    assert app.config["SECRET_KEY"] == "test secret key"
    assert {"auth", "coach", "rate"} <= set(app.blueprints)
    app.extensions["cl360.db"].dispose()


def test_the_readme_documents_every_setting():
    from assessment.config import ENVIRONMENT, PROJECT_ROOT

    table = (PROJECT_ROOT / "README.md").read_text().split("## Configuration", 1)[1]
    table = table.split("\n## ", 1)[0]
    assert [name for name in ENVIRONMENT if f"`{name}`" not in table] == []
