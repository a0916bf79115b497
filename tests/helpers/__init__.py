"""What the tests share besides fixtures (the fixtures are in tests/conftest.py).

- workloads: the session workload's parameters, building a generated workload with dbt on
  DuckDB or Postgres, dropping Postgres schemas;
- services: `service_missing` (skip locally, fail under CI);
- servers: `tasker-analytics serve` as a real process on a free port;
- responses: the engine-parity requests, bodies without their volatile fields, closed schemas;
- builds: reading dbt's summary, comparing two builds' tables;
- figures: `record_figure` for `make reliability`;
- oracle: the plain-Python recomputation of every figure from the raw tables;
- diff: collecting every mismatch between the oracle and the API;
- bottleneck_compare: one bottlenecks body against the oracle, figure by figure;
- hand_built: the oracle self-check's hand-built rows, and writing rows as a DuckDB source;
- fixture_tasks: hand-crafted tasks with hand-computed figures (the recommendations);
- flood_client: a flood of uncached requests, run as a process of its own;
- doc_blocks: the fenced code blocks of the Markdown documents, with their skip markers;
- paths: the tests, helpers and repository folders.

Imported as `helpers.<module>` (pyproject.toml puts tests/ on the path).
"""
