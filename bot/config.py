"""All settings in one typed place.

Read from a TOML file (``--config``, else ``./kvm-patchbot.toml`` if present)
and from environment variables ``KVMBOT_<SECTION>__<KEY>``, which win. With
neither, the embedded defaults run a complete local service: a SQLite file in
the working directory, the SMTP sink on 127.0.0.1:8025 accepting any recipient
at localhost, and preview mode instead of Discord.

Everything is checked when it is loaded, not when the service starts: ranges,
names, files that must exist, rules across fields. `load_settings` raises
`ConfigError` with every problem found, each as `where: key: what is wrong`
(`kvm-patchbot check-config` prints them all).
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bot.store.url import async_url, with_password

DEFAULT_CONFIG_FILE = Path("kvm-patchbot.toml")
ENV_PREFIX = "KVMBOT_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Discord accepts only these auto_archive_duration values (minutes): discord-api-docs,
# resources/Channel.md, "Start Thread from Message" JSON params.
THREAD_ARCHIVE_MINUTES = (60, 1440, 4320, 10080)


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not a log level: one of {', '.join(LOG_LEVELS)}")
    return level


_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def _recipient(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    if not at or not _DOMAIN.fullmatch(domain) or any(c in local for c in " @<>"):
        raise ValueError(f"{value!r} is neither an address (bot@example.org) nor a domain (@example.org)")
    return value.strip()


def _list_id(value: str) -> str:
    bare = value.strip().strip("<>").strip()
    if not bare or " " in bare or "." not in bare:
        raise ValueError(f"{value!r} is not a List-Id such as kvm.vger.kernel.org")
    return bare


def _url_scheme(*schemes: str) -> AfterValidator:
    def check(value: str) -> str:
        if not value.startswith(tuple(f"{s}://" for s in schemes)):
            raise ValueError(f"{value!r} is not a {' or '.join(schemes)} URL")
        return value.rstrip("/")

    return AfterValidator(check)


def _archive_minutes(value: int) -> int:
    if value not in THREAD_ARCHIVE_MINUTES:
        raise ValueError(f"must be one of {', '.join(map(str, THREAD_ARCHIVE_MINUTES))} (Discord's choices), not {value}")
    return value


Port = Annotated[int, Field(ge=0, le=65535)]  # 0: any free port (tests, demo)
Snowflake = Annotated[int, Field(gt=0)]  # a Discord id
LogLevel = Annotated[str, AfterValidator(_log_level)]
Recipient = Annotated[str, AfterValidator(_recipient)]
ListId = Annotated[str, AfterValidator(_list_id)]
StoreUrl = Annotated[str, AfterValidator(async_url)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpSettings(_Section):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: Port = 8025
    # Accepted recipients; an entry "@domain" accepts every address at that domain.
    recipients: list[Recipient] = Field(default=["@localhost"], min_length=1)
    # Client networks allowed to deliver (CIDR): loopback unless configured; empty means any.
    client_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
        ipaddress.IPv4Network("127.0.0.0/8"),
        ipaddress.IPv6Network("::1/128"),
    ]
    # Accepted List-Id values (bare id, e.g. "kvm.vger.kernel.org"); empty means any.
    list_ids: list[ListId] = []
    # Below 1 KiB not even the headers of a list mail fit.
    max_message_size: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Open connections at once, in total and from one client host; more get 421.
    max_connections: Annotated[int, Field(ge=1, le=10_000)] = 50
    max_connections_per_client: Annotated[int, Field(ge=1, le=10_000)] = 20
    # DATA held in memory by all sessions together (bytes); a mail past it gets 451.
    max_buffered_data: Annotated[int, Field(ge=1024 * 1024, le=16 * 1024**3)] = 128 * 1024 * 1024
    # Seconds a connection may go without progress (a DATA begun or ended); NOOP does not count.
    idle_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 300.0
    tls_cert: FilePath | None = None
    tls_key: FilePath | None = None
    require_tls: bool = False

    @model_validator(mode="after")
    def _tls_pair(self) -> SmtpSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            raise ValueError(f"{given} is set but {missing} is not: STARTTLS needs both")
        if self.require_tls and self.tls_cert is None:
            raise ValueError("require_tls needs tls_cert and tls_key")
        return self


class StoreSettings(_Section):
    # sqlite:///relative.db, sqlite:////absolute.db or postgresql://user@host/db;
    # stored as the async-driver URL (sqlite+aiosqlite://, postgresql+asyncpg://).
    url: StoreUrl = "sqlite+aiosqlite:///kvm-patchbot.db"
    # PostgreSQL's password from a file (a docker secret, a systemd credential),
    # put into `url` at load time, so that no file or variable holds it in clear.
    password_file: FilePath | None = None
    # PostgreSQL only: the schema (search_path) the bot's tables live in; None:
    # the server's default. Several bots may share a database, one schema each.
    pg_schema: Annotated[str | None, Field(min_length=1, max_length=63, pattern=r"^[a-z_][a-z0-9_]*$")] = None

    @model_validator(mode="after")
    def _password(self) -> StoreSettings:
        if self.pg_schema is not None and not self.url.startswith("postgresql"):
            raise ValueError("pg_schema is for PostgreSQL only: SQLite has one schema per file")
        if self.password_file is None:
            return self
        try:
            password = self.password_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"password_file {self.password_file}: cannot read it: {exc}") from None
        if not password:
            raise ValueError(f"password_file {self.password_file} is empty")
        self.url = with_password(self.url, password)
        return self


class TrackerSettings(_Section):
    """How much of the archive the series tracker keeps in memory (`run` only)."""

    # Series active (a mail posted or touched them) within this many days of the
    # newest activity stay in memory; older ones are read from the store when a
    # mail refers to them, so memory follows the list's traffic, not its history.
    window_days: Annotated[float, Field(ge=0, le=36500)] = 180.0
    # At most this many series in memory, least recently active evicted first; 0: no cap.
    window_max_series: Annotated[int, Field(ge=0)] = 0


class PollerSettings(_Section):
    """Fetch a public-inbox (lore) epoch by git, for operators without a mail server."""

    enabled: bool = False
    url: str | None = None  # e.g. https://lore.kernel.org/kvm/git/1.git; later epochs are followed
    mirror: Path = Path("lore-mirror.git")
    interval_seconds: float = Field(default=300.0, gt=0)
    # Verify mode: lore is compared with what arrived by SMTP; a mail missing
    # here (a gap) is imported, counted (kvmbot_verify_gaps_total, a log line)
    # and announced when its Date is within verify_recent_hours, else stored
    # quietly. false: lore is the only source, and every new mail is news.
    verify: bool = True
    verify_recent_hours: Annotated[float, Field(ge=0, le=24 * 365)] = 48.0

    @model_validator(mode="after")
    def _needs_url(self) -> PollerSettings:
        if self.enabled and not self.url:
            raise ValueError("enabled needs url (the lore epoch, e.g. https://lore.kernel.org/kvm/git/1.git)")
        return self


class MetricsSettings(_Section):
    """/metrics (Prometheus) and /healthz over HTTP; off unless a port is set."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: Port | None = None


class SubscriptionFilter(_Section):
    """Which events a subscription wants. Empty lists mean "no restriction"."""

    lists: list[ListId] = []  # List-Id values
    # prefix match: "KVM: x86" matches "KVM: x86/mmu"; with * or ?, a glob over the whole subsystem
    subsystems: list[str] = []
    paths: list[str] = []  # fnmatch globs over touched files: "arch/x86/kvm/*"
    authors: list[str] = []  # substring match on "Name <email>"; "@domain" matches the address's domain
    title_words: list[str] = []  # each must start a word of the title ("harv" matches "harvesting")
    # "series" (N > 1), "single", "pull", "backport" (stable backports: only when named)
    kinds: list[Literal["series", "single", "pull", "backport"]] = []
    stable_only: bool = False
    fixes_only: bool = False
    rfc: bool | None = None  # None: both; False: no RFCs; True: only RFCs


class SubscriptionConfig(_Section):
    guild: Snowflake
    channel: Snowflake
    filter: SubscriptionFilter = SubscriptionFilter()
    threads: bool = True  # a thread per series with one message per patch
    single_threads: bool = False  # ... even for a single patch (else its card says it all)
    alert_channel: Snowflake | None = None  # stable alerts go here too
    alert_role: Snowflake | None = None  # the only thing the bot ever mentions


class DiscordSettings(_Section):
    # None: preview mode (console + JSONL file). Give the token in the
    # environment (KVMBOT_DISCORD__TOKEN) or as a file (token_file: a systemd
    # credential, a docker secret), never in the TOML file.
    token: SecretStr | None = None
    token_file: FilePath | None = None
    api_base_url: Annotated[str, _url_scheme("https", "http")] = "https://discord.com/api/v10"
    gateway_url: Annotated[str, _url_scheme("wss", "ws")] = "wss://gateway.discord.gg"
    preview_file: Path = Path("kvm-patchbot-preview.jsonl")
    guild_ids: list[Snowflake] = []  # guilds to register slash commands in at once
    thread_auto_archive_minutes: Annotated[int, AfterValidator(_archive_minutes)] = 1440
    # A channel Discord refused (403) is parked and tried again on a permission
    # change seen on the gateway, by `kvm-patchbot deliveries retry`, or after
    # this long: a change the bot did not see (an overwrite on a category) must
    # not park it forever, and a refusing channel must not be hammered.
    park_retry_seconds: Annotated[float, Field(ge=10, le=7 * 86400)] = 600.0
    # Sharding (Discord requires it past 2,500 guilds per connection): the
    # total number of shards, and the ones this process connects ([] : all of
    # them). A guild belongs to shard (guild_id >> 22) % shard_count; only a
    # process holding a guild's shard delivers to that guild's channels.
    shard_count: Annotated[int, Field(ge=1, le=65536)] | None = None
    shard_ids: list[Annotated[int, Field(ge=0)]] = []

    @model_validator(mode="after")
    def _shards(self) -> DiscordSettings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError("shard_ids needs shard_count (the total number of shards)")
        if self.shard_count is not None:
            wrong = sorted(i for i in self.shard_ids if i >= self.shard_count)
            if wrong:
                raise ValueError(f"shard_ids {wrong}: a shard id is below shard_count ({self.shard_count})")
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError("shard_ids: each shard once")
        return self

    def my_shards(self) -> tuple[int, list[int]] | None:
        """(shard_count, the shard ids this process connects), or None unsharded."""
        if self.shard_count is None:
            return None
        return self.shard_count, sorted(self.shard_ids) or list(range(self.shard_count))

    @model_validator(mode="after")
    def _token(self) -> DiscordSettings:
        if self.token_file is not None:
            try:
                from_file = self.token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"token_file {self.token_file}: cannot read it: {exc}") from None
            if self.token is not None and self.token.get_secret_value() != from_file:
                raise ValueError("token and token_file are both set: give one")
            if not from_file:
                raise ValueError(f"token_file {self.token_file} is empty")
            self.token = SecretStr(from_file)
        if self.token is not None:
            secret = self.token.get_secret_value()
            if not secret.strip():
                raise ValueError("token is empty: unset it for preview mode")
            if secret.startswith("Bot "):
                raise ValueError('token starts with "Bot ": give the token alone')
        return self


class RoutingSettings(_Section):
    """When a series is routed to its channels (see bot/notify/delivery/settle.py).

    vger delivers a series out of order. A single patch is routed at once; a
    series when its cover letter (or, with none, its patch 1) arrives, or
    `settle_seconds` after its first mail arrived, whichever is first; in its
    thread, patch k waits for 1..k-1 until the series has been quiet that long.

    The default, 180 s, is measured on the 42 threads of the shared x86
    corpus: the cover (or patch 1) is always the earliest Date of its posting,
    so it reaches us at most one list-server delay (0-120 s seen) after the
    first mail; a whole posting's Dates span 14 s (median) to 48 s, one slow
    send 410 s (v9 of the Hyper-V series, its mails ~10 s apart, so its quiet
    gaps stay well under the window). 120 s of delay plus 48 s of spread, with
    a margin: 180 s. 0 routes every mail at once, in arrival order.
    """

    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = 180.0


class CommandSettings(_Section):
    """The slash commands (bot/discord/cogs)."""

    # Answer with "thinking..." when an answer is not ready this soon: Discord allows 3 s in
    # all for the first answer, and the network and the event loop need some of them.
    defer_after_seconds: Annotated[float, Field(ge=0, le=2.5)] = 2.0
    # Per user, the expensive commands (/series search, /digest, /stats): this many per window.
    expensive_per_user: Annotated[int, Field(ge=1)] = 5
    expensive_window_seconds: Annotated[float, Field(gt=0)] = 60.0
    max_subscriptions_per_guild: Annotated[int, Field(ge=1)] = 50
    # A month's digest takes about half a second to build (the event loop's time).
    digest_max_days: Annotated[int, Field(ge=1, le=366)] = 31
    stats_max_days: Annotated[int, Field(ge=1, le=3660)] = 366


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KVMBOT_", env_nested_delimiter="__", extra="forbid"
    )

    smtp: SmtpSettings = SmtpSettings()
    store: StoreSettings = StoreSettings()
    tracker: TrackerSettings = TrackerSettings()
    poller: PollerSettings = PollerSettings()
    discord: DiscordSettings = DiscordSettings()
    metrics: MetricsSettings = MetricsSettings()
    commands: CommandSettings = CommandSettings()
    routing: RoutingSettings = RoutingSettings()
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    log_level: LogLevel = "INFO"
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


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the settings: where it was set (a file, the
    environment), the key there, and what is wrong with it."""

    where: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.key}: {self.message}" if self.key else f"{self.where}: {self.message}"


class ConfigError(ValueError):
    """The settings cannot be used; `problems` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more: `kvm-patchbot check-config` lists them)" if len(problems) > 1 else ""
        super().__init__(f"bad configuration: {problems[0]}{more}")


def config_path(given: Path | None = None) -> Path | None:
    """The TOML file `load_settings` reads: the one given, else ./kvm-patchbot.toml if there is one."""
    if given is None and DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    return given


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `config_file` (or ./kvm-patchbot.toml), the environment and overrides.

    Raises ConfigError listing every problem, each naming the file or the
    environment variable it comes from.
    """
    path = config_path(config_file)
    if path is not None and not path.is_file():
        raise ConfigError([Problem(str(path), "", "no such configuration file")])

    class _Loaded(Settings):
        toml_file = path

    try:
        loaded = _Loaded(**overrides)
    except ValidationError as exc:
        raise ConfigError([_problem(err, path, overrides) for err in exc.errors(include_url=False)]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem(str(path), "", f"not valid TOML: {exc}")]) from None
    except SettingsError as exc:  # an environment variable's JSON: 'error parsing value for field "smtp" ...'
        field = re.search(r'field "([^"]+)"', str(exc))
        prefix = ENV_PREFIX + (field.group(1).upper() if field else "")
        names = sorted(n for n in os.environ if n.upper().startswith(prefix)) or [f"{prefix}..."]
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError([Problem("environment", " or ".join(names),
                                   f"not readable (lists and tables are written as JSON){cause}")]) from None
    # A plain Settings (the per-call subclass cannot be pickled), without validating twice.
    return Settings.model_construct(_fields_set=loaded.model_fields_set, **dict(loaded))


# pydantic's range errors, said as a rule.
_BOUNDS = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "too_short": "needs at least {min_length} entries",
}
# Values of these keys are never repeated in a message.
_SECRET_KEYS = ("token", "url", "password")


def _problem(err: Any, path: Path | None, overrides: dict[str, Any]) -> Problem:
    loc = tuple(err["loc"])
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    where, key = _origin(loc, key, path, overrides)
    kind, message, value, ctx = err["type"], err["msg"], err.get("input"), err.get("ctx") or {}
    if kind == "extra_forbidden":
        message = "unknown key" + _suggest(loc)
    elif kind == "missing":
        message = "required, and not set"
    elif kind in _BOUNDS:
        message = _BOUNDS[kind].format(**ctx)
        if kind == "too_short" and ctx.get("min_length") == 1:
            message = "needs at least one entry"
        if _showable(loc, value):
            message += f", not {_shown(value)}"
    elif kind == "path_not_file":
        message = f"no such file: {value}"
    else:
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind != "value_error" and _showable(loc, value):  # our own messages name the value already
            message += f" (got {_shown(value)})"
    return Problem(where, key, message)


def _showable(loc: tuple[Any, ...], value: object) -> bool:
    """May the message repeat `value`? A scalar, and not of a key that may hold a secret."""
    return isinstance(value, int | float | str) and not any(s in str(part) for part in loc for s in _SECRET_KEYS)


def _shown(value: object) -> str:
    """A number as written (an environment variable's "99999" too), anything else quoted."""
    if isinstance(value, str) and value.lstrip("-").replace(".", "", 1).isdigit():
        return value
    return repr(value)


def _origin(loc: tuple[Any, ...], key: str, path: Path | None, overrides: dict[str, Any]) -> tuple[str, str]:
    """Where the value at `loc` came from, and its key there: the environment wins over the file."""
    names = [str(p).upper() for p in loc if isinstance(p, str)]
    environ = {n.upper(): n for n in os.environ if n.upper().startswith(ENV_PREFIX)}
    for depth in range(len(names), 0, -1):
        var = environ.get(ENV_PREFIX + "__".join(names[:depth]))
        if var is not None:
            whole = depth == len(names) and not any(isinstance(p, int) for p in loc)
            return "environment", var if whole else f"{var} ({key})"
    if loc and loc[0] in overrides:
        return "settings", key
    if path is not None:
        return str(path), key
    section = f"{ENV_PREFIX}{names[0]}__" if names else None
    if section is not None and any(n.startswith(section) for n in environ):
        return "environment", f"{section}* ({key})"
    return "settings", key


def _suggest(loc: tuple[Any, ...]) -> str:
    """ " (did you mean 'port'?)" for a mistyped key, from the model's own field names."""
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = model_in(field.annotation) if field is not None else None
        if model is None:
            return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def model_in(annotation: Any) -> Any:
    """The pydantic model an annotation holds (`X`, `X | None`, `list[X]`), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_in(arg)
        if found is not None:
            return found
    return None


def log_level(settings: Settings) -> int:
    """The numeric level of `settings.log_level` (already checked to be a name)."""
    return logging.getLevelNamesMapping()[settings.log_level]
