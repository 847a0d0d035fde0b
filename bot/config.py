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
from typing import Annotated, Any, ClassVar, Literal

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
    # Client networks allowed to deliver (CIDR): loopback unless configured; empty means any.
    client_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
        ipaddress.IPv4Network("127.0.0.0/8"),
        ipaddress.IPv6Network("::1/128"),
    ]
    # Accepted List-Id values (bare id, e.g. "kvm.vger.kernel.org"); empty means any.
    list_ids: list[str] = []
    max_message_size: int = 10 * 1024 * 1024
    # Open connections at once, in total and from one client host; more get 421.
    max_connections: Annotated[int, Field(ge=1, le=10_000)] = 50
    max_connections_per_client: Annotated[int, Field(ge=1, le=10_000)] = 20
    # DATA held in memory by all sessions together (bytes); a mail past it gets 451.
    max_buffered_data: Annotated[int, Field(ge=1024 * 1024, le=16 * 1024**3)] = 128 * 1024 * 1024
    # Seconds a connection may go without progress (a DATA begun or ended); NOOP does not count.
    idle_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 300.0
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
    # Verify mode: lore is compared with what arrived by SMTP; a mail missing
    # here (a gap) is imported, counted (kvmbot_verify_gaps_total, a log line)
    # and announced when its Date is within verify_recent_hours, else stored
    # quietly. false: lore is the only source, and every new mail is news.
    verify: bool = True
    verify_recent_hours: Annotated[float, Field(ge=0, le=24 * 365)] = 48.0


class MetricsSettings(_Section):
    """/metrics (Prometheus) and /healthz over HTTP; off unless a port is set."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] | None = None  # 0: any free port (tests)


class SubscriptionFilter(_Section):
    """Which events a subscription wants. Empty lists mean "no restriction"."""

    lists: list[str] = []  # List-Id values
    subsystems: list[str] = []  # prefix match: "KVM: x86" matches "KVM: x86/mmu"
    paths: list[str] = []  # fnmatch globs over touched files: "arch/x86/kvm/*"
    authors: list[str] = []  # substring match on "Name <email>"
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KVMBOT_", env_nested_delimiter="__", extra="forbid"
    )

    smtp: SmtpSettings = SmtpSettings()
    store: StoreSettings = StoreSettings()
    poller: PollerSettings = PollerSettings()
    discord: DiscordSettings = DiscordSettings()
    metrics: MetricsSettings = MetricsSettings()
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    log_level: str = "INFO"
    # "json": each log record as one JSON object per line (time, level, logger, message, ...).
    log_format: Literal["text", "json"] = "text"

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
