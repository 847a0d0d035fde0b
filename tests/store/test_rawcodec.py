"""Raw mail is stored compressed and always comes back byte for byte, old rows included."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from bot.store.rawcodec import pack, pack_all, unpack


def seed_mails(seed_dir: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(seed_dir.glob("*.eml"))]


def test_round_trip_and_smaller(seed_dir: Path) -> None:
    raws = seed_mails(seed_dir)
    assert len(raws) == 18
    packed = pack_all(raws)
    assert packed == [pack(raw) for raw in raws]
    assert [unpack(blob) for blob in packed] == raws
    assert sum(map(len, packed)) < 0.6 * sum(map(len, raws))


@pytest.mark.parametrize("level", [1, 6, 9])
def test_rows_written_with_zlib_still_read(seed_dir: Path, level: int) -> None:
    """Databases from before zstd hold zlib streams."""
    raw = seed_mails(seed_dir)[0]
    assert unpack(zlib.compress(raw, level)) == raw


@pytest.mark.parametrize("raw", [b"", b"\x28\xb5\x2f\xfd", b"x" * 1_000_000, bytes(range(256)) * 64])
def test_edge_inputs(raw: bytes) -> None:
    assert unpack(pack(raw)) == raw


def test_garbage_is_an_error_not_a_wrong_mail() -> None:
    with pytest.raises(zlib.error):
        unpack(b"\x00not compressed at all")
