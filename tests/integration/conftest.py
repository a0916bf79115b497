"""Integration tests: the dbt builds (the session `workload` of tests/conftest.py, and the
small hand-built ones some modules make), the DuckDB and Postgres warehouses, and the app
in a Litestar TestClient, all in this process.

Postgres tests carry the postgres marker; `make test-fast` runs this folder without them
(a few minutes, most of it the session build)."""
