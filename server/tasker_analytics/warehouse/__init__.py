"""Reading the built marts: DuckDB and PostgreSQL snapshots of one build, and every SQL statement the server runs."""
