"""The command line as a whole: which modules start-up imports, the command
table, and errors as one line (exit status 2 for bad arguments), tracebacks
only with --debug."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sqlalchemy", "discord", "aiosmtpd", "alembic", "pydantic_settings", "tqdm", "aiohttp", "asyncpg")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("KVMBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _loaded_after(code: str) -> dict[str, list[str]]:
    """Top-level packages (heavy ones, and bot's own modules) imported by `code` in a fresh interpreter."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        "mods = sorted(sys.modules)\n"
        f"print(json.dumps({{'heavy': sorted({{m.split('.')[0] for m in mods}} & set({list(HEAVY)!r})),"
        " 'bot': [m for m in mods if m.startswith('bot')],"
        " 'pydantic': 'pydantic' in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(done.stdout.splitlines()[-1])


def test_help_imports_no_command_and_no_heavy_library() -> None:
    got = _loaded_after("from bot.cli import build_parser\nbuild_parser().format_help()")
    assert got["heavy"] == []
    assert not got["pydantic"]
    assert sorted(got["bot"]) == ["bot", "bot.cli", "bot.cli.common", "bot.store", "bot.store.url"]


def test_parse_imports_the_parser_and_nothing_heavy(seed_dir: Path) -> None:
    mail = min(seed_dir.glob("*.eml"))
    got = _loaded_after(
        "import contextlib, io\nfrom bot.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): assert main(['parse', '--jsonl', {str(mail)!r}]) == 0"
    )
    assert got["heavy"] == []
    assert "bot.mail.parse" in got["bot"]
    assert not [m for m in got["bot"] if m.startswith(("bot.store.store", "bot.config", "bot.discord", "bot.app"))]


def test_the_command_table_matches_each_commands_module() -> None:
    """`kvm-patchbot --help` lists COMMANDS without importing the modules; each
    module registers the same name and help, and every module is listed."""
    import importlib

    for name, (module, summary) in COMMANDS.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        assert list(sub.choices) == [name]
        assert [a.help for a in sub._choices_actions] == [summary]
    modules = {f"bot.cli.{p.stem}" for p in (ROOT / "bot" / "cli").glob("*.py")} - {"bot.cli.__init__", "bot.cli.common"}
    assert modules == {m for m, _ in COMMANDS.values()}


@pytest.mark.parametrize("command", [["series"], ["unparsed"], ["subscriptions", "list"], ["reparse"]])
def test_a_bad_db_is_one_line_with_status_2(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command[0], "--db", "nonsense", *command[1:]])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"kvm-patchbot {command[0]}: argument --db: not a database URL: 'nonsense'")


READERS = [["series"], ["unparsed"], ["subscriptions", "list"], ["reparse"], ["list-mail"], ["variants"],
           ["deliveries", "list"]]


@pytest.mark.parametrize("command", READERS)
def test_a_missing_store_is_one_line_with_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    assert main([command[0], "--db", f"sqlite:///{tmp_path / 'typo.db'}", *command[1:]]) == 2
    err = capsys.readouterr().err
    assert err == f"kvm-patchbot {command[0]}: no store at {tmp_path / 'typo.db'} (check --db or store.url; " \
        "`kvm-patchbot run` or `ingest` creates one)\n"
    assert not (tmp_path / "typo.db").exists()  # not created empty either


def test_a_store_that_cannot_open_is_one_line_status_1_and_debug_shows_the_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("a file where a directory should be")
    url = f"sqlite:///{tmp_path / 'file' / 'store.db'}"
    assert main(["ingest", "--quiet", "--db", url, str(tmp_path / "file")]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"kvm-patchbot ingest: cannot open the store sqlite+aiosqlite:///{tmp_path / 'file' / 'store.db'}: "
        "database error: unable to open database file (--debug shows the traceback)\n"
    )
    with pytest.raises(Exception, match="unable to open database file"):
        main(["ingest", "--quiet", "--db", url, str(tmp_path / "file"), "--debug"])


def test_a_pg_schema_on_sqlite_is_one_line_with_status_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["ingest", "--quiet", "--db", f"sqlite:///{tmp_path / 's.db'}", "--pg-schema", "bot", "x"]) == 2
    assert capsys.readouterr().err == (
        "kvm-patchbot ingest: --pg-schema is for PostgreSQL only: an SQLite store has one schema per file\n"
    )
    with pytest.raises(SystemExit):
        main(["series", "--pg-schema", "Not-A-Schema"])
    assert "argument --pg-schema: 'Not-A-Schema' is not a schema name" in capsys.readouterr().err


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema, dropped afterwards."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = "cli_" + uuid.uuid4().hex[:12]

    async def run(sql: str) -> None:
        engine = create_async_engine(pg_url)
        async with engine.begin() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(run(f'DROP SCHEMA "{name}" CASCADE'))


@pytest.mark.pg
def test_every_command_reads_the_configured_pg_schema(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, pg_url: str, pg_schema: str, seed_dir: Path
) -> None:
    """A bot configured with `store.pg_schema` writes its tables there; the
    commands read them there, not in the database's default schema."""
    monkeypatch.setenv("KVMBOT_STORE__URL", pg_url)
    monkeypatch.setenv("KVMBOT_STORE__PG_SCHEMA", pg_schema)
    assert main(["ingest", "--quiet", str(seed_dir)]) == 0
    capsys.readouterr()
    assert main(["series", "--jsonl"]) == 0
    configured = capsys.readouterr().out.splitlines()
    assert main(["series", "--jsonl", str(seed_dir)]) == 0  # the same mail in a store of its own
    assert [json.loads(x)["title"] for x in configured] == [json.loads(x)["title"] for x in capsys.readouterr().out.splitlines()]
    assert len(configured) >= 3
    # --db names the store; --pg-schema its schema (the configured one is for the configured store)
    assert main(["series", "--jsonl", "--db", pg_url, "--pg-schema", pg_schema]) == 0
    assert capsys.readouterr().out.splitlines() == configured
    for command in READERS:
        assert main(command) == 0, command
    assert "reparsed" in capsys.readouterr().out


def test_a_plain_sqlite_url_is_accepted_on_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, seed_dir: Path
) -> None:
    db = tmp_path / "plain.db"
    assert main(["ingest", "--quiet", "--db", f"sqlite:///{db}", str(seed_dir)]) == 0
    capsys.readouterr()
    assert main(["series", "--db", f"sqlite:///{db}", "--jsonl"]) == 0
    assert len(capsys.readouterr().out.splitlines()) >= 3


def test_a_bad_log_level_in_the_environment_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVMBOT_LOG_LEVEL", "LOUD")
    assert main(["run"]) == 2
    assert capsys.readouterr().err == (
        "kvm-patchbot run: bad configuration: environment: KVMBOT_LOG_LEVEL: 'LOUD' is not a log level: "
        "one of DEBUG, INFO, WARNING, ERROR, CRITICAL\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "kvm-patchbot: argument COMMAND: invalid choice: 'bogus'"),
        (["subscriptions", "add"], "kvm-patchbot subscriptions add: the following arguments are required: --guild"),
        (["parse"], "kvm-patchbot parse: the following arguments are required: PATH"),
        (["series", "--limit", "many"], "kvm-patchbot series: argument --limit: invalid int value: 'many'"),
        (["series", "--bogus"], "kvm-patchbot series: unrecognized arguments: --bogus (see `kvm-patchbot series --help`)"),
    ],
)
def test_bad_arguments_are_one_line_with_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        status = main(argv)
    except SystemExit as exited:
        status = int(exited.code or 0)
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message), err


def test_a_real_process_exits_2_with_one_line() -> None:
    """The console script's way: `python -m bot`, exit status and stderr as a shell sees them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVMBOT_")}
    done = subprocess.run([sys.executable, "-m", "bot", "unparsed", "--db", "mysql://db/kvm"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**env, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "kvm-patchbot unparsed: argument --db: mysql: the store runs on SQLite or PostgreSQL (write e.g. "
        "sqlite:///relative.db, sqlite:////absolute/path.db or postgresql://user@host/db) "
        "(see `kvm-patchbot unparsed --help`)"
    ]


def test_check_config_lists_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[smtp]\nmax_message_size = -1\nprot = 25\n[poller]\nenabled = true\n')
    monkeypatch.setenv("KVMBOT_LOG_LEVEL", "LOUD")
    monkeypatch.setenv("KVMBOT_STORE_URL", "sqlite:///x.db")  # one underscore: no such setting
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert sorted(out.splitlines()) == sorted([
        "environment: KVMBOT_STORE_URL: no such setting, ignored (did you mean KVMBOT_STORE__URL?)",
        f"{path}: smtp.max_message_size: must be at least 1024, not -1",
        f"{path}: smtp.prot: unknown key (did you mean 'port'?)",
        f"{path}: poller: enabled needs url (the lore epoch, e.g. https://lore.kernel.org/kvm/git/1.git)",
        "environment: KVMBOT_LOG_LEVEL: 'LOUD' is not a log level: one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    ])
    assert err == f"{path}: 4 problems\n"


def test_check_config_of_a_good_file_says_what_would_run(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "token"
    token.write_text("very-secret-token\n")
    monkeypatch.setenv("KVMBOT_DISCORD__TOKEN_FILE", str(token))
    monkeypatch.setenv("KVMBOT_STORE__URL", "postgres://kvmbot:hunter2@db/kvmbot")
    example = ROOT / "config" / "kvm-patchbot.toml"
    assert main(["check-config", str(example)]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"{example}: OK: SMTP on 127.0.0.1:8025, store postgresql+asyncpg://kvmbot:***@db/kvmbot, no poller, "
        f"Discord: token from {token}, 2 subscriptions, log level INFO\n"
    )
    assert "very-secret-token" not in out and "hunter2" not in out


def test_check_config_of_a_missing_file_is_status_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check-config", str(tmp_path / "nope.toml")]) == 2
    assert capsys.readouterr().err == f"kvm-patchbot check-config: {tmp_path / 'nope.toml'}: no such configuration file\n"


def test_debug_and_verbose_are_taken_after_the_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    assert main(["unparsed", "--db", url, "-v"]) == 2  # one line, as without -v
    assert capsys.readouterr().err.startswith("kvm-patchbot unparsed: no store at")
    with pytest.raises(Exception, match="no store at"):
        main(["unparsed", "--db", url, "--debug"])
