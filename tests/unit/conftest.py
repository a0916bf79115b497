"""Unit tests: plain Python, no dbt build, no server process, no service (the one Postgres
round trip of the generator is marked postgres). The whole folder runs in seconds:
`pytest tests/unit`.

The auth checks, the settings and the README's configuration table, the generator's
invariants, the oracle on hand-built rows, and the repository's own consistency (the
architecture diagram, references that stay inside the repository)."""
