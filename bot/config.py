"""All settings in one typed place.

Read from a TOML file (``--config``, else ``./kvm-patchbot.toml`` if present)
and from environment variables ``KVMBOT_<SECTION>__<KEY>``, which win. With
neither, the embedded defaults run a complete local service: a SQLite file in
the working directory, the SMTP sink on 127.0.0.1:8025 accepting any recipient
at localhost, and preview mode instead of Discord.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path("kvm-patchbot.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8025
    # Accepted recipients; an entry "@domain" accepts every address at that domain.
    recipients: list[str] = ["@localhost"]
    # Client networks allowed to deliver (CIDR); empty means any.
    client_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    # Accepted List-Id values (bare id, e.g. "kvm.vger.kernel.org"); empty means any.
    list_ids: list[str] = []
    max_message_size: int = 10 * 1024 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False


class StoreSettings(_Section):
    # SQLAlchemy async URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...
    url: str = "sqlite+aiosqlite:///kvm-patchbot.db"


class PollerSettings(_Section):
    """Fetch a public-inbox (lore) epoch by git, for operators without a mail server."""

    enabled: bool = False
    url: str | None = None  # e.g. https://lore.kernel.org/kvm/git/1.git; later epochs are followed
    mirror: Path = Path("lore-mirror.git")
    interval_seconds: float = 300.0


class SubscriptionFilter(_Section):
    """Which events a subscription wants. Empty lists mean "no restriction"."""

    lists: list[str] = []  # List-Id values
    # prefix match: "KVM: x86" matches "KVM: x86/mmu"; with * or ?, a glob over the whole subsystem
    subsystems: list[str] = []
    paths: list[str] = []  # fnmatch globs over touched files: "arch/x86/kvm/*"
    authors: list[str] = []  # substring match on "Name <email>"; "@domain" matches the address's domain
    title_words: list[str] = []  # each must start a word of the title ("harv" matches "harvesting")
    kinds: list[str] = []  # "series" (N > 1), "single", "pull"
    stable_only: bool = False
    fixes_only: bool = False
    rfc: bool | None = None  # None: both; False: no RFCs; True: only RFCs


class SubscriptionConfig(_Section):
    guild: int
    channel: int
    filter: SubscriptionFilter = SubscriptionFilter()
    threads: bool = True  # a thread per series with one message per patch
    alert_channel: int | None = None  # stable alerts go here too
    alert_role: int | None = None  # the only thing the bot ever mentions


class DiscordSettings(_Section):
    token: SecretStr | None = None  # none: preview mode (console + JSONL file)
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"
    preview_file: Path = Path("kvm-patchbot-preview.jsonl")
    guild_ids: list[int] = []  # guilds to register slash commands in at once
    thread_auto_archive_minutes: int = 1440


class CommandSettings(_Section):
    """The slash commands (bot/discord/cogs)."""

    # Answer with "thinking..." when an answer is not ready this soon (Discord allows 3 s in all).
    defer_after_seconds: float = 2.0
    # Per user, the expensive commands (/series search, /digest, /stats): this many per window.
    expensive_per_user: int = 5
    expensive_window_seconds: float = 60.0
    max_subscriptions_per_guild: int = 50
    digest_max_days: int = 31  # a month's digest takes about half a second to build
    stats_max_days: int = 366


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KVMBOT_", env_nested_delimiter="__", extra="forbid"
    )

    smtp: SmtpSettings = SmtpSettings()
    store: StoreSettings = StoreSettings()
    poller: PollerSettings = PollerSettings()
    discord: DiscordSettings = DiscordSettings()
    commands: CommandSettings = CommandSettings()
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    log_level: str = "INFO"

    # Set on a per-call subclass by load_settings: the TOML file to read, if any.
    toml_file: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_file))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `config_file` (or ./kvm-patchbot.toml), the environment and overrides."""
    path = config_file
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"configuration file not found: {path}")

    class _Loaded(Settings):
        toml_file = path

    loaded = _Loaded(**overrides)
    return Settings.model_validate(loaded.model_dump())
