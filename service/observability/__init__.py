"""Observability: Prometheus metrics and JSON logs carrying a request id."""
