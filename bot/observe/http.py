"""/metrics and /healthz over HTTP, served in the service's own event loop.

/healthz answers 200 with a JSON body when every check passes, 503 (same body,
saying which failed and why) otherwise: what a container healthcheck, a
systemd watchdog script or a load balancer asks. /metrics refreshes the gauges
read from the store, then answers in Prometheus' text format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.observe.metrics import Metrics

log = logging.getLogger(__name__)

# Each check: None when fine, else what is wrong.
Check = Callable[[], Awaitable[str | None]]


class MetricsServer:
    def __init__(
        self,
        metrics: Metrics,
        checks: dict[str, Check],
        *,
        refresh: Callable[[], Awaitable[None]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.metrics = metrics
        self.checks = checks
        self._refresh = refresh
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self.port)
        await self._site.start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", *self.address)

    @property
    def address(self) -> tuple[str, int]:
        server = self._site._server if self._site is not None else None  # aiohttp keeps it there
        sockets = getattr(server, "sockets", None)
        if not sockets:
            raise RuntimeError("the metrics server is not listening")
        name = sockets[0].getsockname()
        return name[0], name[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    async def health(self) -> tuple[bool, dict[str, object]]:
        results: dict[str, object] = {}
        ok = True
        for name, check in self.checks.items():
            try:
                problem = await check()
            except Exception as exc:  # a check that fails is a failed check
                problem = f"{type(exc).__name__}: {exc}"
            results[name] = "ok" if problem is None else problem
            ok = ok and problem is None
        return ok, {"status": "ok" if ok else "failing", "checks": results}

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, body = await self.health()
        return web.Response(
            status=200 if ok else 503, text=json.dumps(body), content_type="application/json"
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        if self._refresh is not None:
            try:
                await self._refresh()
            except Exception:  # the store is down: the counters are still worth reading
                log.warning("refreshing the store's gauges failed", exc_info=True)
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
