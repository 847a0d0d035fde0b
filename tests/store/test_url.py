"""Plain database URLs (sqlite:///, postgres://) open the store through the async drivers."""

from __future__ import annotations

import pytest

from bot.store.url import StoreUrlError, async_url, hide_password, sqlite_path, with_password
from tests.conftest import StoreTarget
from tests.helpers import raw_mail


def _plain(url: str) -> str:
    return url.replace("sqlite+aiosqlite://", "sqlite://").replace("postgresql+asyncpg://", "postgres://")


async def test_the_store_opens_from_a_plain_url(store_target: StoreTarget) -> None:
    plain = _plain(store_target.url)
    assert "+" not in plain.split("://")[0]
    store = await store_target.open(plain)
    try:
        res = await store.ingest(raw_mail("plain-url@example.com", "[PATCH] KVM: x86: plain URLs"), source="file")
        assert res.new
        assert await store.raw("plain-url@example.com") is not None
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kvm.db", "not a database URL: 'kvm.db'"),
        ("sqlite://kvm.db", "names a host"),
        ("sqlite+pysqlite:///kvm.db", "through aiosqlite"),
        ("postgresql+psycopg://db/kvm", "through asyncpg"),
        ("mysql+aiomysql://db/kvm", "runs on SQLite or PostgreSQL"),
        ("://", "not a database URL"),
    ],
)
def test_urls_the_store_cannot_open_say_what_to_write(url: str, message: str) -> None:
    with pytest.raises(StoreUrlError, match=message):
        async_url(url)


def test_passwords_are_hidden_and_sqlite_files_found() -> None:
    assert hide_password("postgresql+asyncpg://kvmbot:s3cret@db:5432/kvm") == "postgresql+asyncpg://kvmbot:***@db:5432/kvm"
    assert hide_password("postgresql://kvmbot@db/kvm") == "postgresql://kvmbot@db/kvm"
    assert sqlite_path("sqlite+aiosqlite:////var/lib/kvm.db") == "/var/lib/kvm.db"
    assert sqlite_path("sqlite:///kvm.db?mode=ro") == "kvm.db"
    assert sqlite_path("sqlite+aiosqlite://") is None
    assert sqlite_path("postgresql+asyncpg://db/kvm") is None


def test_a_password_from_a_file_reaches_the_driver_unmangled() -> None:
    from sqlalchemy.engine import make_url

    url = with_password("postgresql+asyncpg://kvmbot@db:5432/kvm", "p@ss/w:rd %1")
    parsed = make_url(url)
    assert (parsed.username, parsed.password, parsed.host, parsed.database) == ("kvmbot", "p@ss/w:rd %1", "db", "kvm")
    assert with_password(url, "p@ss/w:rd %1") == url  # loading twice changes nothing
    with pytest.raises(StoreUrlError, match="holds a password already"):
        with_password("postgresql+asyncpg://kvmbot:other@db/kvm", "p@ss")
