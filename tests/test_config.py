"""Settings: embedded defaults, the example config, ./kvm-patchbot.toml, env overrides."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from bot.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "kvm-patchbot.toml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("KVMBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no ./kvm-patchbot.toml unless a test writes one


def test_embedded_defaults_run_a_local_service() -> None:
    s = load_settings()
    assert (s.smtp.host, s.smtp.port) == ("127.0.0.1", 8025)
    assert s.smtp.recipients == ["@localhost"]
    assert s.smtp.max_message_size == 10 * 1024 * 1024
    assert s.store.url == "sqlite+aiosqlite:///kvm-patchbot.db"  # in the working directory
    assert s.discord.token is None and not s.poller.enabled


def test_example_config_loads() -> None:
    s = load_settings(EXAMPLE)
    assert s.smtp.list_ids == ["kvm.vger.kernel.org"]
    assert ipaddress.ip_network("127.0.0.0/8") in s.smtp.client_networks
    assert s.store.url.startswith("sqlite+aiosqlite:////var/lib/kvm-patchbot/")
    assert [sub.filter.stable_only for sub in s.subscriptions] == [False, True]
    assert s.poller.url == "https://lore.kernel.org/kvm/git/1.git"


def test_env_overrides_win_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVMBOT_SMTP__HOST", "0.0.0.0")
    monkeypatch.setenv("KVMBOT_SMTP__PORT", "2525")
    monkeypatch.setenv("KVMBOT_STORE__URL", "postgresql+asyncpg://kvmbot@db/kvmbot")
    monkeypatch.setenv("KVMBOT_SMTP__RECIPIENTS", '["bot@lists.example"]')
    s = load_settings(EXAMPLE)
    assert (s.smtp.host, s.smtp.port) == ("0.0.0.0", 2525)
    assert s.store.url == "postgresql+asyncpg://kvmbot@db/kvmbot"
    assert s.smtp.recipients == ["bot@lists.example"]
    assert s.smtp.list_ids == ["kvm.vger.kernel.org"]  # the rest still from the file


def test_working_directory_config_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "kvm-patchbot.toml").write_text('[smtp]\nport = 2626\n[store]\nurl = "sqlite+aiosqlite:///x.db"\n')
    s = load_settings()
    assert s.smtp.port == 2626 and s.store.url == "sqlite+aiosqlite:///x.db"


def test_bad_configs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: no such configuration file"):
        load_settings(tmp_path / "nope.toml")
    typo = tmp_path / "typo.toml"
    typo.write_text("[smtp]\nprot = 25\n")
    with pytest.raises(ConfigError, match=r"typo.toml: smtp.prot: unknown key \(did you mean 'port'\?\)"):
        load_settings(typo)
    net = tmp_path / "net.toml"
    net.write_text('[smtp]\nclient_networks = ["10.0.0.300/8"]\n')
    with pytest.raises(ConfigError, match=r"net.toml: smtp.client_networks\[0\]"):
        load_settings(net)
    broken = tmp_path / "broken.toml"
    broken.write_text("[smtp\nport = 1\n")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML: .*line 1"):
        load_settings(broken)


def _problems(path: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ("[smtp]\nmax_message_size = -1\n", "smtp.max_message_size: must be at least 1024, not -1"),
        ("[smtp]\nport = 70000\n", "smtp.port: must be at most 65535, not 70000"),
        ("[smtp]\nrecipients = []\n", "smtp.recipients: needs at least one entry"),
        ('[smtp]\nrecipients = ["kvm"]\n', "smtp.recipients[0]: 'kvm' is neither an address"),
        ('[smtp]\nlist_ids = ["not an id"]\n', "smtp.list_ids[0]: 'not an id' is not a List-Id"),
        ('[smtp]\ntls_cert = "/nonexistent/cert.pem"\n', "smtp.tls_cert: no such file: /nonexistent/cert.pem"),
        ('log_level = "LOUD"\n', "log_level: 'LOUD' is not a log level: one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ('[store]\nurl = "mysql://db/kvm"\n', "store.url: mysql: the store runs on SQLite or PostgreSQL"),
        ('[store]\nurl = "kvm.db"\n', "store.url: not a database URL: 'kvm.db'"),
        ('[store]\nurl = "sqlite://kvm.db"\n', "store.url: 'sqlite://kvm.db' names a host"),
        ('[store]\nurl = "postgresql+psycopg2://db/kvm"\n', "store.url: postgresql+psycopg2: the store runs PostgreSQL through asyncpg"),
        ("[tracker]\nwindow_days = -1\n", "tracker.window_days: must be at least 0.0, not -1"),
        ("[tracker]\nwindow_max_series = -5\n", "tracker.window_max_series: must be at least 0, not -5"),
        ("[poller]\nenabled = true\n", "poller: enabled needs url"),
        ("[poller]\ninterval_seconds = 0\n", "poller.interval_seconds: must be more than 0"),
        ("[discord]\nthread_auto_archive_minutes = 30\n", "discord.thread_auto_archive_minutes: must be one of 60, 1440, 4320, 10080 (Discord's choices), not 30"),
        ("[discord]\npark_retry_seconds = 1\n", "discord.park_retry_seconds: must be at least 10.0, not 1"),
        ('[discord]\napi_base_url = "discord.com/api"\n', "discord.api_base_url: 'discord.com/api' is not a https or http URL"),
        ("[[subscriptions]]\nguild = 0\nchannel = 1\n", "subscriptions[0].guild: must be more than 0, not 0"),
        ("[[subscriptions]]\nchannel = 1\n", "subscriptions[0].guild: required, and not set"),
        ('[[subscriptions]]\nguild = 1\nchannel = 2\n[subscriptions.filter]\nkinds = ["serie"]\n',
         "subscriptions[0].filter.kinds[0]: Input should be 'series', 'single', 'pull' or 'backport'"),
    ],
)
def test_each_bad_value_is_refused_at_load_time(tmp_path: Path, toml: str, problem: str) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(toml)
    assert [p for p in _problems(path) if p.startswith(f"{path}: {problem}")], (_problems(path), problem)


def test_cross_field_rules_are_load_time_errors(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not checked here: the sink loads it")
    path = tmp_path / "bot.toml"
    path.write_text(f'[smtp]\ntls_cert = "{cert}"\n')
    assert _problems(path) == [f"{path}: smtp: tls_cert is set but tls_key is not: STARTTLS needs both"]
    path.write_text("[smtp]\nrequire_tls = true\n")
    assert _problems(path) == [f"{path}: smtp: require_tls needs tls_cert and tls_key"]
    path.write_text(f'[smtp]\ntls_cert = "{cert}"\ntls_key = "{cert}"\nrequire_tls = true\n')
    assert load_settings(path).smtp.require_tls


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('log_level = "loud"\n[smtp]\nport = -1\nmax_message_size = -1\n[poller]\nenabled = true\n')
    assert sorted(_problems(path)) == sorted([
        f"{path}: log_level: 'loud' is not a log level: one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        f"{path}: smtp.port: must be at least 0, not -1",
        f"{path}: smtp.max_message_size: must be at least 1024, not -1",
        f"{path}: poller: enabled needs url (the lore epoch, e.g. https://lore.kernel.org/kvm/git/1.git)",
    ])


def test_a_bad_environment_variable_is_named_as_such(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("[smtp]\nport = 2525\n")
    monkeypatch.setenv("KVMBOT_LOG_LEVEL", "LOUD")
    monkeypatch.setenv("KVMBOT_SMTP__PORT", "99999")
    assert sorted(_problems(path)) == [
        "environment: KVMBOT_LOG_LEVEL: 'LOUD' is not a log level: one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        "environment: KVMBOT_SMTP__PORT: must be at most 65535, not 99999",
    ]


def test_log_levels_are_normalised() -> None:
    assert load_settings(log_level="debug").log_level == "DEBUG"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite:////var/lib/kvm-patchbot/x.db", "sqlite+aiosqlite:////var/lib/kvm-patchbot/x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://kvmbot@db/kvmbot", "postgresql+asyncpg://kvmbot@db/kvmbot"),
        ("postgres://kvmbot:pw@db:5433/kvmbot", "postgresql+asyncpg://kvmbot:pw@db:5433/kvmbot"),
        ("postgresql+asyncpg://kvmbot@db/kvmbot", "postgresql+asyncpg://kvmbot@db/kvmbot"),
    ],
)
def test_plain_database_urls_map_to_the_async_drivers(tmp_path: Path, given: str, stored: str) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(f'[store]\nurl = "{given}"\n')
    assert load_settings(path).store.url == stored


def test_a_password_in_a_bad_url_is_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[store]\nurl = "mysql://kvmbot:hunter2@db/kvm"\n[smtp]\nport = -1\n')
    assert "hunter2" not in " ".join(_problems(path))


def test_the_discord_token_comes_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "discord-token"
    token.write_text("MTIz.secret-token-value\n")  # a trailing newline, as `echo` leaves it
    monkeypatch.setenv("KVMBOT_DISCORD__TOKEN_FILE", str(token))
    s = load_settings()
    assert s.discord.token is not None and s.discord.token.get_secret_value() == "MTIz.secret-token-value"
    for text in (repr(s), str(s), s.model_dump_json()):
        assert "secret-token-value" not in text


def test_token_file_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    monkeypatch.setenv("KVMBOT_DISCORD__TOKEN_FILE", str(empty))
    assert _problems() == [f"environment: KVMBOT_DISCORD__* (discord): token_file {empty} is empty"]
    monkeypatch.setenv("KVMBOT_DISCORD__TOKEN_FILE", str(tmp_path / "missing"))
    assert _problems() == [f"environment: KVMBOT_DISCORD__TOKEN_FILE: no such file: {tmp_path / 'missing'}"]
    full = tmp_path / "full"
    full.write_text("from-file")
    monkeypatch.setenv("KVMBOT_DISCORD__TOKEN_FILE", str(full))
    monkeypatch.setenv("KVMBOT_DISCORD__TOKEN", "Bot from-env")
    problems = _problems()
    assert problems == ["environment: KVMBOT_DISCORD__* (discord): token and token_file are both set: give one"]
    monkeypatch.delenv("KVMBOT_DISCORD__TOKEN_FILE")
    problems = _problems()
    assert problems == ['environment: KVMBOT_DISCORD__* (discord): token starts with "Bot ": give the token alone']
    assert "from-env" not in " ".join(problems)


def test_the_postgresql_password_comes_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("p@ss/word:1\n")
    monkeypatch.setenv("KVMBOT_STORE__URL", "postgres://kvmbot@db:5432/kvmbot")
    monkeypatch.setenv("KVMBOT_STORE__PASSWORD_FILE", str(secret))
    s = load_settings()
    assert s.store.url == "postgresql+asyncpg://kvmbot:p%40ss%2Fword%3A1@db:5432/kvmbot"
    monkeypatch.setenv("KVMBOT_STORE__URL", "postgres://db/kvmbot")
    assert _problems() == [
        "environment: KVMBOT_STORE__* (store): 'postgresql+asyncpg://db/kvmbot' names no user: "
        "write postgresql://user@host/db"
    ]
    monkeypatch.setenv("KVMBOT_STORE__URL", "sqlite:///x.db")
    assert _problems() == ["environment: KVMBOT_STORE__* (store): a password is for PostgreSQL: a SQLite URL takes none"]


def test_an_environment_variable_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVMBOT_SMTP__RECIPIENTS", "bot@example.org")  # a list, so JSON: '["bot@example.org"]'
    monkeypatch.setenv("KVMBOT_LOG_LEVEL", "INFO")
    (problem,) = _problems()
    assert problem.startswith("environment: KVMBOT_SMTP__RECIPIENTS: not readable (lists and tables are written as JSON)")


def test_the_tracker_window_is_set_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(None).tracker.window_days == 180.0
    path = tmp_path / "bot.toml"
    path.write_text("[tracker]\nwindow_days = 30\nwindow_max_series = 5000\n")
    got = load_settings(path).tracker
    assert (got.window_days, got.window_max_series) == (30.0, 5000)
    monkeypatch.setenv("KVMBOT_TRACKER__WINDOW_DAYS", "0")
    assert load_settings(path).tracker.window_days == 0.0


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ("[discord]\nshard_ids = [0]\n", "discord: shard_ids needs shard_count"),
        ("[discord]\nshard_count = 2\nshard_ids = [0, 2]\n", "discord: shard_ids [2]: a shard id is below shard_count (2)"),
        ("[discord]\nshard_count = 2\nshard_ids = [1, 1]\n", "discord: shard_ids: each shard once"),
        ("[discord]\nshard_count = 0\n", "discord.shard_count: must be at least 1"),
        ("[discord]\nshard_count = 2\nshard_ids = [-1]\n", "discord.shard_ids[0]: must be at least 0"),
        ('[store]\npg_schema = "kvm"\n', "store: pg_schema is for PostgreSQL only"),
        ('[store]\nurl = "postgresql://db/kvm"\npg_schema = "Bad-Name"\n', "store.pg_schema:"),
    ],
)
def test_shards_and_the_schema_are_checked_at_load_time(tmp_path: Path, toml: str, problem: str) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(toml)
    assert [p for p in _problems(path) if p.startswith(f"{path}: {problem}")], (_problems(path), problem)


def test_a_process_connects_its_shards_or_all_of_them(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("[discord]\nshard_count = 4\nshard_ids = [3, 1]\n")
    assert load_settings(path).discord.my_shards() == (4, [1, 3])
    path.write_text("[discord]\nshard_count = 2\n")
    assert load_settings(path).discord.my_shards() == (2, [0, 1])
    path.write_text('[store]\nurl = "postgresql://db/kvm"\npg_schema = "kvmbot"\n')
    s = load_settings(path)
    assert s.discord.my_shards() is None and s.store.pg_schema == "kvmbot"
