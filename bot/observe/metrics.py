"""The service's metrics, on a registry of its own (one per App, so tests that
run several do not share counters). Names and meanings are in deploy/README.md.

prometheus_client is imported when the first Metrics is made, not with this
module: a command that never runs the service does not pay for it (~90 ms).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp
    from prometheus_client import CollectorRegistry

# Group commits take milliseconds; a stalled disk, seconds.
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a mail's arrival to its post: seconds normally, hours while Discord is down.
LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = registry or CollectorRegistry()
        self.mails_received = Counter(
            "kvmbot_mails_received", "Mails taken in (new and duplicate), by source", ["source"], registry=r
        )
        self.mails_unparseable = Counter(
            "kvmbot_mails_unparseable", "New mails kept raw but not understood", registry=r
        )
        self.mails_duplicate = Counter(
            "kvmbot_mails_duplicate", "Mails whose Message-ID was stored already", registry=r
        )
        self.mail_variants = Counter(
            "kvmbot_mail_variants", "Duplicates with another body, kept as variants", registry=r
        )
        self.list_mail = Counter(
            "kvmbot_list_mail", "List-management mail kept for the operator, by kind", ["kind"], registry=r
        )
        self.outbox_pending = Gauge(
            "kvmbot_outbox_pending", "Deliveries not yet made, and events not yet routed", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "kvmbot_outbox_oldest_age_seconds", "Age of the oldest event still owed to a channel", registry=r
        )
        self.discord_requests = Counter(
            "kvmbot_discord_requests", "Discord HTTP API responses, by status code", ["status"], registry=r
        )
        self.smtp_commit = Histogram(
            "kvmbot_smtp_commit_seconds", "One SMTP group commit (the wait before each 250)",
            buckets=COMMIT_BUCKETS, registry=r,
        )
        self.delivery_latency = Histogram(
            "kvmbot_delivery_latency_seconds", "From a mail's arrival to its post in a channel",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.verify_gaps = Counter(
            "kvmbot_verify_gaps", "Mails on lore that never arrived by SMTP (imported by the poller)", registry=r
        )

    def count_ingest(self, source: str, read: int, duplicates: int, variants: int, unparsed: int) -> None:
        if read:
            self.mails_received.labels(source=source).inc(read)
        if duplicates:
            self.mails_duplicate.inc(duplicates)
        if variants:
            self.mail_variants.inc(variants)
        if unparsed:
            self.mails_unparseable.inc(unparsed)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def discord_trace(self) -> aiohttp.TraceConfig:
        """An aiohttp trace for discord.py's HTTP session: counts each response's status."""
        import aiohttp

        trace = aiohttp.TraceConfig()

        async def on_end(session: object, ctx: object, params: aiohttp.TraceRequestEndParams) -> None:
            self.discord_requests.labels(status=str(params.response.status)).inc()

        async def on_error(session: object, ctx: object, params: aiohttp.TraceRequestExceptionParams) -> None:
            self.discord_requests.labels(status="error").inc()

        trace.on_request_end.append(on_end)
        trace.on_request_exception.append(on_error)
        return trace
