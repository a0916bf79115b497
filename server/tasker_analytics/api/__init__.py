"""The HTTP API: the app factory, the cache-hit fast path, the endpoints, health, the
admission of uncached work, and the Prometheus and Grafana views."""
