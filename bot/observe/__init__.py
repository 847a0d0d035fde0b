"""Watching the service: Prometheus metrics, /healthz and /metrics over HTTP,
JSON log lines. Any stage may be handed a `Metrics`; this package imports none
of them."""
