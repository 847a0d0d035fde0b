"""Mail kept beside the list traffic: variants of a known Message-ID, and
list-management mail. Never tracked, never announced; listed for the operator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import schema as t
from bot.store.engine import chunked
from bot.store.models import ListMail, VariantMail
from bot.store.rawcodec import pack, unpack
from bot.store.rows import storable
from bot.store.writegate import Writes


class KeptMixin:
    reads: AsyncEngine  # autocommit on PostgreSQL (bot.store.engine.read_engine)
    writes: Writes

    def check_file(self) -> None:  # the Store's: raises StoreUnavailable if its file is gone
        raise NotImplementedError

    async def known_message_ids(self, message_ids: Sequence[str]) -> set[str]:
        """Those of `message_ids` that are stored (the poller's verify mode)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(message_ids))
        async with self.reads.connect() as conn:
            for part in chunked(ids, 500):
                q = select(t.mails.c.message_id).where(t.mails.c.message_id.in_(part))
                found.update(await conn.scalars(q))
        return found

    async def variants(self) -> list[VariantMail]:
        q = select(t.mail_variants).order_by(t.mail_variants.c.id)
        async with self.reads.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [VariantMail.model_validate({k: v for k, v in r.items() if k != "raw"}) for r in rows]

    async def variant_raw(self, variant_id: int) -> bytes | None:
        async with self.reads.connect() as conn:
            blob = await conn.scalar(select(t.mail_variants.c.raw).where(t.mail_variants.c.id == variant_id))
        return None if blob is None else unpack(blob)

    async def keep_list_mail(
        self,
        raw: bytes,
        *,
        kind: str,
        mail_from: str,
        sender: str,
        subject: str,
        source_ref: str | None,
        received_at: datetime | None = None,
    ) -> int:
        """Store one list-management mail (committed before returning); its id."""
        row = {
            "kind": kind, "mail_from": storable(mail_from), "sender": storable(sender),
            "subject": storable(subject), "raw": pack(raw), "size": len(raw),
            "source_ref": storable(source_ref) if source_ref else None,
            "received_at": received_at or datetime.now(timezone.utc),
        }
        self.check_file()
        async with self.writes.begin() as conn:
            mail_id = (await conn.execute(insert(t.list_mail).returning(t.list_mail.c.id), row)).scalar_one()
        self.check_file()
        return mail_id

    async def list_mail(self) -> list[ListMail]:
        q = select(t.list_mail).order_by(t.list_mail.c.id)
        async with self.reads.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [ListMail.model_validate({k: v for k, v in r.items() if k != "raw"}) for r in rows]

    async def list_mail_raw(self, mail_id: int) -> bytes | None:
        async with self.reads.connect() as conn:
            blob = await conn.scalar(select(t.list_mail.c.raw).where(t.list_mail.c.id == mail_id))
        return None if blob is None else unpack(blob)
