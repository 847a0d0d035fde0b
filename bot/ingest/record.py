"""The unit every mail source yields: raw bytes plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass


class SourceError(Exception):
    """A source cannot be read at all (missing path, not a mail archive, bad range)."""


@dataclass(frozen=True, slots=True)
class RawMail:
    """One mail's bytes as stored, and a reference back to its origin.

    `ref` is the public-inbox commit id for git archives, `<file>:<byte offset>`
    for mbox files and the file path for single .eml files; `origin` names the
    file or repository it was read from.
    """

    data: bytes
    ref: str
    origin: str

    @property
    def commit(self) -> str | None:
        """The public-inbox commit id, when the mail came from a git archive."""
        ref = self.ref
        if len(ref) in (40, 64) and all(c in "0123456789abcdef" for c in ref):
            return ref
        return None
