"""System tests: the product as it runs. Real server processes (granian) and the command
line, builds in subprocesses and killed ones, a private Postgres stopped while serving, the
dashboard in Chromium (browser), wrk and floods against a server (load), Spark builds
(spark), and schema fuzzing. Slow, and some need tools outside the Python environment;
`make test` runs them, `make test-fast` does not."""
