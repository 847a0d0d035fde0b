"""The fake's limit checks: every documented limit accepts its maximum and refuses one more."""

from __future__ import annotations

import pytest

from tests.fakediscord import limits


def embed_with(path: str, size: int) -> dict:
    """An embed whose `path` (dotted) holds `size` characters."""
    text = "x" * size
    return {
        "title": {"title": text},
        "description": {"description": text},
        "footer.text": {"footer": {"text": text}},
        "author.name": {"author": {"name": text}},
        "fields.0.name": {"fields": [{"name": text, "value": "v"}]},
        "fields.0.value": {"fields": [{"name": "n", "value": text}]},
    }[path]


def error_at(errors: dict, path: str) -> dict:
    node = errors
    for key in path.split("."):
        node = node[key]
    return node["_errors"][0]


@pytest.mark.parametrize(
    "path,limit",
    [
        ("title", 256),
        ("description", 4096),
        ("footer.text", 2048),
        ("author.name", 256),
        ("fields.0.name", 256),
        ("fields.0.value", 1024),
    ],
)
def test_embed_text_limits(path: str, limit: int) -> None:
    assert limits.check_message({"embeds": [embed_with(path, limit)]}) == {}
    errors = limits.check_message({"embeds": [embed_with(path, limit + 1)]})
    error = error_at(errors, f"embeds.0.{path}")
    assert error["code"] == "BASE_TYPE_MAX_LENGTH" and str(limit) in error["message"]


def test_content_limit() -> None:
    assert limits.check_message({"content": "x" * 2000}) == {}
    assert error_at(limits.check_message({"content": "x" * 2001}), "content")["message"] == (
        "Must be 2000 or fewer in length."
    )


def test_nonce_limit() -> None:
    assert limits.check_message({"content": "c", "nonce": "n" * 25}) == {}
    assert "25 or fewer" in error_at(limits.check_message({"content": "c", "nonce": "n" * 26}), "nonce")["message"]


def test_embed_count_field_count_and_total_size() -> None:
    assert limits.check_message({"embeds": [{"title": "t"}] * 10}) == {}
    assert "10 or fewer" in error_at(limits.check_message({"embeds": [{"title": "t"}] * 11}), "embeds")["message"]

    fields = [{"name": "n", "value": "v"}] * 25
    assert limits.check_message({"embeds": [{"fields": fields}]}) == {}
    too_many = limits.check_message({"embeds": [{"fields": fields + fields[:1]}]})
    assert "25 or fewer" in error_at(too_many, "embeds.0.fields")["message"]

    # 6000 over all embeds together, each one within its own limits.
    at_limit = [{"description": "d" * 3000}, {"description": "d" * 2990, "title": "t" * 10}]
    assert limits.check_message({"embeds": at_limit}) == {}
    over = [{"description": "d" * 3000}, {"description": "d" * 3000, "footer": {"text": "f"}}]
    assert error_at(limits.check_message({"embeds": over}), "embeds")["code"] == "MAX_EMBED_SIZE_EXCEEDED"


def test_empty_fields_and_messages() -> None:
    assert error_at(limits.check_embed({"fields": [{"name": "", "value": "v"}]}), "fields.0.name")["code"] == (
        "BASE_TYPE_REQUIRED"
    )
    assert limits.is_empty_message({"content": ""})
    assert not limits.is_empty_message({"embeds": [{"title": "t"}]})


@pytest.mark.parametrize("name,ok", [("", False), ("a", True), ("a" * 100, True), ("a" * 101, False)])
def test_thread_name_length(name: str, ok: bool) -> None:
    errors = limits.check_thread({"name": name, "auto_archive_duration": 1440})
    assert (errors == {}) is ok
    if not ok:
        assert error_at(errors, "name")["message"] == "Must be between 1 and 100 in length."


@pytest.mark.parametrize(
    "duration,ok", [(60, True), (1440, True), (4320, True), (10080, True), (61, False), (0, False)]
)
def test_auto_archive_duration(duration: int, ok: bool) -> None:
    assert (limits.check_thread({"name": "t", "auto_archive_duration": duration}) == {}) is ok


def test_thread_patch_may_omit_the_name() -> None:
    assert limits.check_thread({"archived": True}, partial=True) == {}
    assert "name" in limits.check_thread({}, partial=False)
