"""Settings: embedded defaults, the example config, ./kvm-patchbot.toml, env overrides."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import load_settings

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
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load_settings(tmp_path / "nope.toml")
    typo = tmp_path / "typo.toml"
    typo.write_text("[smtp]\nprot = 25\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(typo)
    net = tmp_path / "net.toml"
    net.write_text('[smtp]\nclient_networks = ["10.0.0.300/8"]\n')
    with pytest.raises(ValidationError):
        load_settings(net)
