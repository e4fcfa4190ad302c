"""The deployment files name only what exists (docs/deployment.md): each process of the Procfile
and of the systemd units is a command of ``cl360`` or a gunicorn serving the product's app with
its settings, each setting of the environment example is one the configuration reads, and the
guide describes every file and names only commands and settings that exist."""

from __future__ import annotations

import re
import runpy
import shlex
import sys
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import click
import pytest
from click.testing import CliRunner
from flask import Flask

from assessment.cli import cli
from assessment.config import ENVIRONMENT, ConfigurationError, Settings

ROOT = Path(__file__).resolve().parents[1]
INSTALL = PurePosixPath("/opt/cl360")
"""Where docs/deployment.md installs the product (a checkout of this repository)."""
BIN = INSTALL / ".venv/bin"
ENVIRONMENT_FILE = "/etc/cl360/environment"
"""Where the guide installs deploy/cl360.env.example; every unit reads it."""
UNITS = ROOT / "deploy/systemd"
EXAMPLE = ROOT / "deploy/cl360.env.example"
GUIDE = ROOT / "docs/deployment.md"
PROGRAMS = {"cl360", "gunicorn"}

# -- reading the files as systemd and a Procfile runner do -------------------------------------


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file: section -> key -> every value given (a key may repeat, as ExecStart= does)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        assert not line.endswith("\\"), f"{path.name}:{number}: no continued lines, please"
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert current is not None and equals, f"{path.name}:{number}: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# The specifiers the units use, with an example of what systemd puts in their place.
SPECIFIERS = {"%": "%", "i": "1", "I": "1", "H": "cl360.example.org"}


def expand(line: str) -> str:
    def one(match: re.Match[str]) -> str:
        assert match[1] in SPECIFIERS, f"a specifier this test does not know: %{match[1]}"
        return SPECIFIERS[match[1]]

    return re.sub(r"%(.)", one, line)


def procfile() -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, colon, command = line.partition(":")
            assert colon and re.fullmatch(r"[a-z][a-z0-9_-]*", name), line
            processes[name] = command.strip()
    return processes


SERVICES = sorted(UNITS.glob("*.service"))


def processes() -> list[tuple[str, list[str]]]:
    """(where, argv) of every process the deployment files start."""
    found = [(f"Procfile:{name}", shlex.split(line)) for name, line in procfile().items()]
    for path in SERVICES:
        for line in unit(path)["Service"].get("ExecStart", []):
            # systemd's prefixes (- @ + ! :) change how it runs the command, not the command.
            found.append((path.name, shlex.split(expand(line.lstrip("-@+!:")))))
    return found


PROCESSES = processes()


def program(argv: list[str]) -> str:
    return PurePosixPath(argv[0]).name


def of(name: str) -> dict:
    """pytest.mark.parametrize's arguments: each process running ``name``, named by its file."""
    chosen = [(where, argv) for where, argv in PROCESSES if program(argv) == name]
    return {"argnames": "where, argv", "argvalues": chosen, "ids": [w for w, _ in chosen]}


def in_checkout(path: str, where: str) -> Path:
    """The file of this repository that a path in a deployment file stands for."""
    if where.startswith("Procfile"):
        return ROOT / path  # a Procfile runs from the repository root
    assert PurePosixPath(path).is_relative_to(INSTALL), f"{where}: {path} is outside {INSTALL}"
    return ROOT / PurePosixPath(path).relative_to(INSTALL)


# -- the processes ------------------------------------------------------------------------------


def test_the_procfile_runs_the_web_app_and_a_worker():
    assert set(procfile()) == {"web", "worker"}
    assert {program(argv) for where, argv in PROCESSES if where.startswith("Procfile")} == PROGRAMS


@pytest.mark.parametrize(("where", "argv"), PROCESSES, ids=[w for w, _ in PROCESSES])
def test_every_process_is_cl360_or_gunicorn_from_the_products_environment(where, argv):
    assert program(argv) in PROGRAMS, f"{where}: {shlex.join(argv)}"
    if not where.startswith("Procfile"):
        assert PurePosixPath(argv[0]).parent == BIN, f"{where}: {argv[0]} is not in {BIN}"


def test_the_programs_are_the_ones_installing_the_product_provides():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["cl360"] == "assessment.cli:cli"
    assert any(re.match(r"gunicorn\b", requirement) for requirement in project["dependencies"])


def test_every_unit_starts_a_process_or_a_service():
    for path in sorted(UNITS.iterdir()):
        assert path.suffix in {".service", ".timer"}, path.name
    for path in SERVICES:
        assert len(unit(path)["Service"]["ExecStart"]) == 1, path.name


def resolve(arguments: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """The command of ``cl360`` that arguments name: (command, its path, the rest)."""
    command: click.Command = cli
    path, rest = [], list(arguments)
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        path.append(rest.pop(0))
        command = command.commands[path[-1]]
    return command, path, rest


def celery_worker_options() -> set[str]:
    from celery.bin.worker import worker

    return {name for param in worker.params for name in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize(**of("cl360"))
def test_each_cl360_process_is_a_command_of_the_cli(where, argv, monkeypatch):
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)  # set by Flask's CLI when it runs
    command, path, rest = resolve(argv[1:])
    assert path and not isinstance(command, click.Group), (
        f"{where}: `{shlex.join(argv)}` names no command of cl360"
    )
    command.make_context(shlex.join(["cl360", *path]), list(rest))  # its arguments parse
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    if path == ["worker"]:
        # `cl360 worker` hands the rest to Celery's worker: each option must be one of its own.
        options = [argument.partition("=")[0] for argument in rest if argument.startswith("-")]
        assert set(options) <= celery_worker_options(), f"{where}: {options}"


@pytest.mark.parametrize(**of("gunicorn"))
def test_each_gunicorn_serves_the_products_app_with_its_settings(
    where, argv, tmp_path, monkeypatch
):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger
    from gunicorn.util import import_app

    options = Config().parser().parse_args(argv[1:])  # an unknown option exits here
    config_file = in_checkout(options.config, where)
    assert config_file == ROOT / "gunicorn.conf.py"
    config, settings = Config(), runpy.run_path(str(config_file))
    names = {name for name in settings if not name.startswith("_")}
    assert names <= set(config.settings), f"not gunicorn settings: {names - set(config.settings)}"
    for name in names:
        config.set(name, settings[name])
    assert issubclass(config.logger_class, Logger)

    (spec,) = options.args
    module = spec.partition(":")[0]
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cl360.sqlite3'}")
    monkeypatch.setenv("CL360_INSTANCE", str(tmp_path / "instance"))
    sys.modules.pop(module, None)
    try:
        app = import_app(spec)  # as gunicorn loads it, from the checkout's root
        assert isinstance(app, Flask) and "coach.healthz" in app.view_functions
        app.extensions["cl360.db"].dispose()
    finally:
        sys.modules.pop(module, None)


def test_the_web_service_listens_where_the_guides_proxy_sends():
    from gunicorn.config import Config

    (argv,) = [argv for where, argv in PROCESSES if where == "cl360-web.service"]
    (bind,) = Config().parser().parse_args(argv[1:]).bind
    assert bind.startswith("127.0.0.1:")  # only the proxy on the same machine reaches it
    assert f"proxy_pass http://{bind};" in GUIDE.read_text()


# -- the units ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SERVICES, ids=[path.name for path in SERVICES])
def test_each_service_runs_as_cl360_in_the_install_with_the_shared_settings(path):
    service = unit(path)["Service"]
    assert service["User"] == service["Group"] == ["cl360"]
    assert service["WorkingDirectory"] == [str(INSTALL)]
    assert service["EnvironmentFile"] == [ENVIRONMENT_FILE]
    assert service["StateDirectory"] == ["cl360"]


def test_the_reminders_timer_starts_the_reminders_service_every_day():
    timer = unit(UNITS / "cl360-reminders.timer")
    (target,) = timer["Timer"].get("Unit", ["cl360-reminders.service"])
    service = unit(UNITS / target)
    assert service["Service"]["Type"] == ["oneshot"]
    (argv,) = [argv for where, argv in PROCESSES if where == target]
    assert argv[1:] == ["reminders", "send"]
    (calendar,) = timer["Timer"]["OnCalendar"]
    assert re.fullmatch(r"daily|\*-\*-\* \d\d:\d\d(:\d\d)?", calendar), calendar
    assert timer["Install"]["WantedBy"] == ["timers.target"]
    assert "Install" not in service  # the timer starts it, nothing else


# -- the settings -------------------------------------------------------------------------------


def example() -> list[tuple[str, str, bool]]:
    """(name, value, set) per setting of the example; ``set`` is False for one commented out."""
    entries = []
    for line in EXAMPLE.read_text().splitlines():
        setting = re.fullmatch(r"(#)?([A-Z][A-Z0-9_]*)=(.*)", line)
        if setting:
            entries.append((setting[2], setting[3], setting[1] is None))
        else:
            assert not line.strip() or line.startswith("#"), (
                f"neither a setting nor a comment: {line!r}"
            )
    return entries


def test_the_environment_example_holds_only_settings_the_product_reads():
    names = [name for name, _, _ in example()]
    assert len(names) == len(set(names))
    assert set(names) <= set(ENVIRONMENT), (
        f"not read by the product: {set(names) - set(ENVIRONMENT)}"
    )
    for name, value, _ in example():
        # What systemd's EnvironmentFile= and sh's `.` both read the same way.
        assert not re.search(r"[\s'\"#\\$`]", value), f"{name}: quote-free, space-free values only"


def test_the_commented_settings_show_their_defaults():
    for name, value, is_set in example():
        default = ENVIRONMENT.get(name, ("",))[0]  # an unknown name fails the test above
        if not is_set and default.startswith("`"):
            assert value == default.strip("`").replace("<project>", str(INSTALL)), name


def test_the_environment_example_is_a_production_configuration():
    values = {name: value for name, value, is_set in example() if is_set}
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings.from_environment(values)  # until the operator sets a key, nothing starts
    settings = Settings.from_environment({**values, "SECRET_KEY": "0" * 64})
    assert settings.production and settings.database_url.startswith("postgresql+psycopg://")
    assert settings.base_url.startswith("https://") and settings.trusted_proxies == 1
    assert settings.mail.configured
    state = unit(SERVICES[0])["Service"]["StateDirectory"][0]
    assert settings.instance_path == Path("/var/lib") / state
    broker, counters = urlsplit(settings.broker_url), urlsplit(settings.ratelimit_storage_uri)
    assert broker.scheme == counters.scheme == "redis"
    assert broker.netloc == counters.netloc and broker.path != counters.path  # one Redis, two dbs


# -- the guide ----------------------------------------------------------------------------------


def test_the_guide_describes_every_deployment_file():
    guide = GUIDE.read_text()
    for path in [*sorted(UNITS.iterdir()), EXAMPLE, ROOT / "Procfile", ROOT / "gunicorn.conf.py"]:
        assert f"`{path.relative_to(ROOT)}`" in guide, path.name
    for place in (str(INSTALL), str(BIN), ENVIRONMENT_FILE):
        assert place in guide
    assert (ROOT / "Procfile").read_text().strip() in guide  # quoted as it is


def code_in(markdown: str) -> list[str]:
    """The text of each code span and each line of a fenced block."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.S | re.M)
    outside = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.S | re.M)
    return [line for block in blocks for line in block.splitlines()] + re.findall(
        r"`([^`\n]+)`", outside
    )


def test_every_cl360_command_the_guide_names_exists():
    named = set()
    for code in code_in(GUIDE.read_text()):
        # `cl360` as the program: first in the code, or run from a bin/ folder.
        for words in re.findall(r"(?:^\s*|bin/)cl360 ([^|;&#]*)", code):
            command, path, _ = resolve(words.replace(",", " ").split())
            if re.match(r"[a-z]", words):
                assert path and not isinstance(command, click.Group), f"`cl360 {words}`"
                named.add(" ".join(path))
    assert {"db upgrade", "db backup", "db restore", "worker", "reminders send"} <= named
    assert {"jobs list", "jobs show", "jobs retry", "create-coach", "demo"} <= named


def test_every_setting_the_guide_names_is_read_by_the_product():
    guide = GUIDE.read_text()
    named = set(re.findall(r"\b(?:CL360|MAIL|RATELIMIT|DATABASE|SECRET)_[A-Z0-9_]+\b", guide))
    assert named <= set(ENVIRONMENT), named - set(ENVIRONMENT)
    assert {"DATABASE_URL", "CL360_BROKER_URL", "RATELIMIT_STORAGE_URI"} <= named


def test_the_readme_and_the_other_guides_point_to_the_deployment_guide():
    readme = (ROOT / "README.md").read_text()
    assert "docs/deployment.md" in readme and "`Procfile`" in readme and "`deploy/`" in readme
    for doc in ("jobs.md", "operations.md"):
        assert "deployment.md" in (ROOT / "docs" / doc).read_text(), doc
