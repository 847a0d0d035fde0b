"""`copy_state` is `dataclasses.replace(s)` written out: every field, shared not copied."""

from __future__ import annotations

from dataclasses import fields, replace

from bot.series.state import SeriesState, copy_state


def test_copy_state_copies_every_field_as_replace_does() -> None:
    # A distinct object per field: a field the copy forgets, or takes from
    # another field, shows as a different object (a new field added to
    # SeriesState but not to copy_state fails here).
    values = {f.name: object() for f in fields(SeriesState)}
    s = SeriesState(**values)  # type: ignore[arg-type]
    copied = copy_state(s)
    assert copied is not s
    for name, value in values.items():
        assert getattr(copied, name) is value, name
    assert copied == replace(s)
    copied.duplicate_of = 7  # a copy's change does not reach the original
    assert s.duplicate_of is values["duplicate_of"]
