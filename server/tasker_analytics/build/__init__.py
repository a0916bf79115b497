"""Building and publishing: dbt runs on DuckDB, PostgreSQL and Spark, the atomic publish,
the guards against bad builds, and the server's background builds."""
