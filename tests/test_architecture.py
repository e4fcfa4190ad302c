"""Properties of the code base itself: the domain core and the report rendering stay free of the
web and the database (docs/architecture.md), the factory is wired."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assessment.app import create_app
from assessment.config import ConfigurationError, Settings

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("flask", "flask_babel", "flask_limiter", "flask_wtf", "werkzeug", "sqlalchemy")
"""What the domain core and the report rendering must not import: the web and the database."""


def module_imports(source: str) -> set[str]:
    """Every module a Python source imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def forbidden_imports(folder: Path, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """Per file under ``folder``: the frameworks it imports, and modules of this product
    outside ``allowed`` (which could bring a framework in with them)."""
    problems: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        bad = sorted(
            name
            for name in module_imports(path.read_text())
            if name.split(".")[0] in FRAMEWORKS
            or (name.split(".")[0] in {"assessment", "reports"} and not name.startswith(allowed))
        )
        if bad:
            problems[str(path.relative_to(folder))] = bad
    return problems


PURE = {
    "assessment/core": ("assessment.core",),
    "reports": ("assessment.core", "reports"),
}


@pytest.mark.parametrize("folder", sorted(PURE))
def test_the_core_and_the_report_rendering_import_no_web_or_database(folder: str):
    assert forbidden_imports(ROOT / folder, PURE[folder]) == {}


def test_the_architecture_check_catches_a_planted_import(tmp_path: Path):
    shutil.copytree(ROOT / "assessment/core", tmp_path / "core")
    planted = tmp_path / "core" / "psychometrics.py"
    source = planted.read_text()
    planted.write_text(source + "\n\ndef later():\n    import flask\n")
    (tmp_path / "core" / "profiles.py").write_text("from assessment.models import Leader\n")
    assert forbidden_imports(tmp_path / "core", PURE["assessment/core"]) == {
        "profiles.py": ["assessment.models"],
        "psychometrics.py": ["flask"],
    }


def test_importing_the_core_loads_no_web_or_database_module():
    """The static check above, confirmed at run time (nothing hidden behind ``importlib``)."""
    modules = [
        f"assessment.core.{path.stem}"
        for path in (ROOT / "assessment/core").glob("*.py")
        if path.stem != "__init__"
    ] + [f"reports.{path.stem}" for path in (ROOT / "reports").glob("*.py")]
    code = (
        f"import sys, {', '.join(sorted(modules))}; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(FRAMEWORKS)!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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


def test_the_readmes_configuration_table_is_the_settings_the_code_reads():
    from assessment.config import ENVIRONMENT, PROJECT_ROOT

    section = (PROJECT_ROOT / "README.md").read_text().split("## Configuration", 1)[1]
    rows = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("| `")]
    assert rows == [
        f"| `{name}` | {default} | {meaning} |" for name, (default, meaning) in ENVIRONMENT.items()
    ]


def test_the_settings_table_lists_exactly_what_the_configuration_reads():
    from assessment.config import ENVIRONMENT

    source = (ROOT / "assessment/config.py").read_text()
    read = {
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "env"
        and isinstance(node.args[0], ast.Constant)
    }
    assert read == set(ENVIRONMENT)
