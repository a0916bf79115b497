# Tasker Analytics — every target runs the same scripts locally and in CI.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TASKS ?= 20000
SEED ?= 42

.DEFAULT_GOAL := help
.PHONY: help install run generate build serve test test-fast fuzz load reliability bench bench-quick lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/tasker-analytics: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $@

install: $(BIN)/tasker-analytics ## create .venv and install the project with its test tools

run: install ## command 1: generate a workload into DuckDB (when missing), build, serve on 127.0.0.1:8000
	$(BIN)/tasker-analytics up --tasks $(TASKS) --seed $(SEED)

generate: install ## write a fresh synthetic workload (TASKS, SEED) into data/tasker_source.duckdb
	$(BIN)/tasker-analytics generate --tasks $(TASKS) --seed $(SEED)

build: install ## dbt build into data/tasker_analytics.duckdb (TASKER_ANALYTICS_WAREHOUSE=postgres for Postgres)
	$(BIN)/tasker-analytics build

serve: install ## serve the API from the last build
	$(BIN)/tasker-analytics serve

test: install ## command 2: run every test (dbt builds, unit and data tests, API, oracle, Postgres)
	$(BIN)/pytest -q --durations=15

# tests/unit and tests/integration without the tests that need a service or a long run
# (markers in pyproject.toml): no PostgreSQL, Spark, browser, wrk or server process.
FAST_MARKERS := not postgres and not spark and not browser and not load
test-fast: install ## unit and integration tests without Postgres, Spark, browser and load (a few minutes)
	$(BIN)/pytest -q --durations=5 tests/unit tests/integration -m "$(FAST_MARKERS)"

fuzz: install ## schemathesis against the served OpenAPI schema, 1,000 requests per operation
	TASKER_ANALYTICS_FUZZ_EXAMPLES=1000 $(BIN)/pytest -q -s tests/system/test_fuzz.py

load: install ## 60 s of wrk at 64 connections while three rebuilds run (bench/results/rebuild_load.json)
	$(BIN)/python bench/rebuild_load.py --seconds 60 --connections 64

reliability: install ## the attack and fault tests with their figures (bench/results/reliability.jsonl, docs/RELIABILITY.md)
	@mkdir -p bench/results && rm -f bench/results/reliability.jsonl
	TASKER_ANALYTICS_RECORD_FIGURES=bench/results/reliability.jsonl $(BIN)/pytest -q tests/system/test_hardening.py tests/system/test_build_failures.py
	@cat bench/results/reliability.jsonl

bench: install ## benchmarks at 10k, 100k and 1M tasks (about an hour; bench/results/, docs/BENCHMARKS.md)
	$(BIN)/python bench/run.py

bench-quick: install ## the same benchmarks at 10k tasks (a few minutes)
	$(BIN)/python bench/run.py --quick

# sqlfluff's dbt templater compiles the models with the profile of profiles.example.yml,
# here against an empty source and warehouse in a temporary folder: no data/ needed, and
# every model is linted as a full build renders it.
lint: install ## ruff format --check and ruff check over all Python, then sqlfluff over the dbt models (CI runs it)
	$(BIN)/ruff format --check server tests bench deploy
	$(BIN)/ruff check server tests bench deploy
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp profiles.example.yml "$$tmp/profiles.yml" && \
	$(BIN)/python -c 'import duckdb, sys; duckdb.connect(sys.argv[1]).close()' "$$tmp/source.duckdb" && \
	echo "$(BIN)/sqlfluff lint models" && \
	env DBT_PROFILES_DIR="$$tmp" DBT_TARGET_PATH="$$tmp/target" DBT_LOG_PATH="$$tmp/logs" \
		DBT_SEND_ANONYMOUS_USAGE_STATS=false TASKER_ANALYTICS_TARGET=duckdb \
		TASKER_SOURCE_DUCKDB_PATH="$$tmp/source.duckdb" TASKER_ANALYTICS_DBT_DUCKDB_PATH="$$tmp/warehouse.duckdb" \
		$(BIN)/sqlfluff lint models

clean: ## remove the generated data, dbt artifacts and the environment
	rm -rf data target logs $(VENV)
