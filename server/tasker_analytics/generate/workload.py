"""Synthetic Tasker workload generator (`tasker-analytics generate`).

Fills the nine Tasker source tables (models/staging/tasker/_tasker__sources.yml) with a realistic, deterministic
workload: a fixed catalog of namespaces, task types and step DAGs (below), tasks spread over
``(as_of - history_hours, as_of]`` with a mild daily rhythm, and a vectorised simulation of
their execution (queue waits, skewed step durations, failures with Ruby-style error classes,
retries with exponential backoff, permanent failures, cancellations, manual resolutions).
Everything simulated after ``as_of`` is cut off, so at ``as_of`` some work is still in flight.

Modelling choices (the analytics depend on them, so they are stated once here):

* Every transition is written explicitly; the first row of an entity is
  ``pending -> in_progress`` with ``from_state = 'pending'`` (never NULL). An entity without
  transitions is pending. ``sort_key`` counts 1.. in time order, times are strictly increasing
  per entity, and ids of both transition tables ascend with ``created_at``.
* ``retry_limit`` is the maximum number of attempts of a retryable step; a non-retryable step
  gets one attempt. A failed attempt is ``in_progress -> error``; a retry is
  ``error -> pending`` a few ms later, then ``pending -> in_progress`` after an exponential
  backoff with jitter. 85 % of error transitions carry ``{"error_class": ..., "attempt": k}``,
  the rest only ``{"attempt": k}``. Some classes are persistent (a declined card stays
  declined): after one, the next attempts fail again with the same class 85 % of the time.
* Every attempt longer than the step's timeout (the ``timeout_s`` of the catalog, which is
  also what ``seeds/step_timeouts.csv`` holds) fails with ``Timeout::Error`` at the timeout.
* A step whose attempts are exhausted stays in ``error``; its dependents never get a
  transition. The task settles (``in_progress -> complete | error``) a few ms after the last
  of its steps settles, so parallel branches finish first.
* 20 % of the tasks that end in ``error`` are resolved by an operator minutes to hours later:
  each exhausted step goes ``error -> resolved_manually`` and, a moment later, the task.
* 1 % of tasks are cancelled at a random point of their run: the task goes
  ``in_progress -> cancelled``; every step that is running or waiting for a retry gets
  ``in_progress | pending -> cancelled`` at that instant; steps that never started keep no
  transitions (pending); settled steps keep their state, and so does a step caught in the
  few ms between a failed attempt and its ``error -> pending`` (Tasker has no
  ``error -> cancelled``).
* Stalled work, so even a small workload has tasks in flight at ``as_of``: 0.05 % of tasks
  (at least one) were never picked up by a worker (no transitions, pending forever) and 0.05 %
  have a root step whose worker died mid-attempt (step and task stay ``in_progress``).
* Data quality: 0.05 % of completed tasks (at least one) come from a host with a skewed clock:
  all their transitions are shifted back so the task settles before its ``created_at``
  (negative task duration); every other invariant still holds for them.
* An incident: the ``stripe_api`` dependent system fails 8x more often and runs 1.6x slower
  from ``as_of - 3h`` to ``as_of - 2h20m``.
* ``backoff_request_seconds`` stays NULL (no simulated server asked for a backoff);
  ``bypass_steps`` is NULL; ``inputs`` of a step is its task's context.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasker_analytics.config.settings import default_source_duckdb
from tasker_analytics.generate.options import add_arguments  # noqa: F401 - `generate.add_arguments` stays

TABLE_NAMES: tuple[str, ...] = (
    "tasker_task_namespaces",
    "tasker_named_tasks",
    "tasker_dependent_systems",
    "tasker_named_steps",
    "tasker_tasks",
    "tasker_workflow_steps",
    "tasker_workflow_step_edges",
    "tasker_task_transitions",
    "tasker_workflow_step_transitions",
)

# --------------------------------------------------------------------------------------
# Column types. Logical type -> (PostgreSQL, DuckDB, Arrow).
# --------------------------------------------------------------------------------------

_TYPES: dict[str, tuple[str, str, pa.DataType]] = {
    "int": ("integer", "INTEGER", pa.int32()),
    "bigint": ("bigint", "BIGINT", pa.int64()),
    "bool": ("boolean", "BOOLEAN", pa.bool_()),
    "ts": ("timestamp without time zone", "TIMESTAMP", pa.timestamp("ms")),
    "jsonb": ("jsonb", "JSON", pa.string()),
    "json": ("json", "JSON", pa.string()),
    "text": ("varchar", "VARCHAR", pa.string()),
}


def _col_types(logical: str) -> tuple[str, str, pa.DataType]:
    if logical.startswith("varchar("):
        return logical, "VARCHAR", pa.string()
    return _TYPES[logical]


_STAMPS = [("created_at", "ts"), ("updated_at", "ts")]

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "tasker_task_namespaces": [
        ("task_namespace_id", "int"),
        ("name", "varchar(64)"),
        ("description", "varchar(255)"),
        *_STAMPS,
    ],
    "tasker_named_tasks": [
        ("named_task_id", "int"),
        ("name", "varchar(64)"),
        ("task_namespace_id", "bigint"),
        ("version", "varchar(16)"),
        ("description", "varchar(255)"),
        ("configuration", "jsonb"),
        *_STAMPS,
    ],
    "tasker_dependent_systems": [
        ("dependent_system_id", "int"),
        ("name", "varchar(64)"),
        ("description", "varchar(255)"),
        *_STAMPS,
    ],
    "tasker_named_steps": [
        ("named_step_id", "int"),
        ("dependent_system_id", "int"),
        ("name", "varchar(128)"),
        ("description", "varchar(255)"),
        *_STAMPS,
    ],
    "tasker_tasks": [
        ("task_id", "bigint"),
        ("named_task_id", "int"),
        ("complete", "bool"),
        ("requested_at", "ts"),
        ("initiator", "varchar(128)"),
        ("source_system", "varchar(128)"),
        ("reason", "text"),
        ("bypass_steps", "json"),
        ("tags", "jsonb"),
        ("context", "jsonb"),
        ("identity_hash", "varchar(128)"),
        *_STAMPS,
    ],
    "tasker_workflow_steps": [
        ("workflow_step_id", "bigint"),
        ("task_id", "bigint"),
        ("named_step_id", "int"),
        ("retryable", "bool"),
        ("retry_limit", "int"),
        ("in_process", "bool"),
        ("processed", "bool"),
        ("processed_at", "ts"),
        ("attempts", "int"),
        ("last_attempted_at", "ts"),
        ("backoff_request_seconds", "int"),
        ("inputs", "jsonb"),
        ("results", "jsonb"),
        ("skippable", "bool"),
        *_STAMPS,
    ],
    "tasker_workflow_step_edges": [
        ("id", "bigint"),
        ("from_step_id", "bigint"),
        ("to_step_id", "bigint"),
        ("name", "text"),
        *_STAMPS,
    ],
    "tasker_task_transitions": [
        ("id", "bigint"),
        ("task_id", "bigint"),
        ("from_state", "text"),
        ("to_state", "text"),
        ("metadata", "jsonb"),
        ("sort_key", "int"),
        ("most_recent", "bool"),
        *_STAMPS,
    ],
    "tasker_workflow_step_transitions": [
        ("id", "bigint"),
        ("workflow_step_id", "bigint"),
        ("from_state", "text"),
        ("to_state", "text"),
        ("metadata", "jsonb"),
        ("sort_key", "int"),
        ("most_recent", "bool"),
        *_STAMPS,
    ],
}

# Indexes a real Tasker database has on these tables (Postgres only).
_PG_INDEXES: dict[str, list[str]] = {
    "tasker_named_tasks": ["task_namespace_id"],
    "tasker_named_steps": ["dependent_system_id"],
    "tasker_tasks": ["named_task_id", "created_at"],
    "tasker_workflow_steps": ["task_id", "named_step_id"],
    "tasker_workflow_step_edges": ["from_step_id", "to_step_id"],
    "tasker_task_transitions": ["task_id, sort_key", "created_at"],
    "tasker_workflow_step_transitions": ["workflow_step_id, sort_key", "created_at"],
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of one generated table."""
    return pa.schema([(name, _col_types(logical)[2]) for name, logical in COLUMNS[table]])


# --------------------------------------------------------------------------------------
# Errors: Ruby-style classes, their messages and where they are raised from.
# seeds/error_taxonomy.csv maps these to error types; InventoryService::StockMismatch and
# DataQuality::AssertionFailed are deliberately left out of it (they pass through unmapped).
# --------------------------------------------------------------------------------------

# class -> (message, innermost backtrace frame, persistent)
ERROR_CLASSES: dict[str, tuple[str, str, bool]] = {
    "Net::ReadTimeout": ("Net::ReadTimeout with #<TCPSocket:(closed)>", "net/protocol.rb:219:in `rbuf_fill'", False),
    "Net::OpenTimeout": ("execution expired", "net/http.rb:1603:in `connect'", False),
    "Faraday::TimeoutError": (
        "request timed out after 10 seconds",
        "faraday/adapter/net_http.rb:66:in `rescue in call'",
        False,
    ),
    "Faraday::ConnectionFailed": (
        "Failed to open TCP connection (Connection refused - connect(2) for port 443)",
        "faraday/adapter/net_http.rb:62:in `rescue in call'",
        False,
    ),
    "Faraday::ServerError": (
        "the server responded with status 503",
        "faraday/response/raise_error.rb:38:in `on_complete'",
        False,
    ),
    "Faraday::TooManyRequestsError": (
        "the server responded with status 429",
        "faraday/response/raise_error.rb:31:in `on_complete'",
        False,
    ),
    "Errno::ECONNRESET": ("Connection reset by peer - SSL_connect", "openssl/buffering.rb:80:in `sysread'", False),
    "PG::ConnectionBad": (
        ('connection to server at "10.0.4.12", port 5432 failed: server closed the connection unexpectedly'),
        "activerecord/connection_adapters/postgresql_adapter.rb:87:in `new_client'",
        False,
    ),
    "ActiveRecord::Deadlocked": (
        "PG::TRDeadlockDetected: ERROR:  deadlock detected",
        "activerecord/connection_adapters/postgresql_adapter.rb:768:in `exec_params'",
        False,
    ),
    "ActiveRecord::StatementInvalid": (
        "PG::QueryCanceled: ERROR:  canceling statement due to statement timeout",
        "activerecord/connection_adapters/postgresql_adapter.rb:768:in `exec_params'",
        False,
    ),
    "ActiveRecord::RecordNotFound": ("Couldn't find record with 'id'", "activerecord/core.rb:253:in `find'", True),
    "ActiveRecord::RecordInvalid": (
        "Validation failed: Total cents must be greater than 0",
        "activerecord/validations.rb:80:in `raise_validation_error'",
        True,
    ),
    "Redis::CannotConnectError": (
        "Error connecting to Redis on redis-primary:6379 (Errno::ECONNREFUSED)",
        "redis/client.rb:398:in `rescue in establish_connection'",
        False,
    ),
    "Stripe::CardError": ("Your card was declined.", "stripe/stripe_client.rb:891:in `handle_error_response'", True),
    "Stripe::RateLimitError": (
        "Too many requests hit the API too quickly.",
        "stripe/stripe_client.rb:901:in `handle_error_response'",
        False,
    ),
    "Aws::S3::Errors::ServiceUnavailable": (
        "Please reduce your request rate.",
        "aws-sdk-core/plugins/raise_response_errors.rb:17:in `call'",
        False,
    ),
    "JSON::ParserError": ("unexpected token at '<html>'", "json/common.rb:219:in `parse'", True),
    "Timeout::Error": ("execution expired", "timeout.rb:43:in `handle_timeout'", False),
    "InventoryService::StockMismatch": (
        "on-hand quantity does not match the warehouse snapshot",
        "app/services/inventory_service/reconciler.rb:58:in `verify!'",
        True,
    ),
    "DataQuality::AssertionFailed": (
        "row count check failed: staged rows differ from source by more than 0.5%",
        "app/lib/data_quality/assertions.rb:31:in `assert!'",
        True,
    ),
}
_ERROR_NAMES: tuple[str, ...] = tuple(ERROR_CLASSES)
_ERROR_INDEX = {name: i for i, name in enumerate(_ERROR_NAMES)}
_PERSISTENT = np.array([ERROR_CLASSES[c][2] for c in _ERROR_NAMES], bool)
TIMEOUT_ERROR_CLASS = "Timeout::Error"

HTTP = (
    ("Net::ReadTimeout", 0.35),
    ("Faraday::TimeoutError", 0.2),
    ("Faraday::ConnectionFailed", 0.2),
    ("Net::OpenTimeout", 0.1),
    ("Faraday::ServerError", 0.15),
)
DB = (("PG::ConnectionBad", 0.4), ("ActiveRecord::Deadlocked", 0.35), ("ActiveRecord::StatementInvalid", 0.25))
LOOKUP = (("ActiveRecord::RecordNotFound", 0.7), ("PG::ConnectionBad", 0.3))
VALIDATION = (("ActiveRecord::RecordInvalid", 0.8), ("ActiveRecord::RecordNotFound", 0.2))
CACHE = (("Redis::CannotConnectError", 0.85), ("Timeout::Error", 0.15))
CARD = (
    ("Stripe::CardError", 0.55),
    ("Net::ReadTimeout", 0.2),
    ("Stripe::RateLimitError", 0.1),
    ("Faraday::ConnectionFailed", 0.15),
)
STRIPE = (("Net::ReadTimeout", 0.4), ("Stripe::RateLimitError", 0.3), ("Faraday::ConnectionFailed", 0.3))
S3 = (("Aws::S3::Errors::ServiceUnavailable", 0.5), ("Net::ReadTimeout", 0.3), ("Errno::ECONNRESET", 0.2))
DELIVERY = (
    ("Faraday::TimeoutError", 0.35),
    ("Faraday::ServerError", 0.3),
    ("Faraday::TooManyRequestsError", 0.2),
    ("Errno::ECONNRESET", 0.15),
)
WEBHOOK = (
    ("Faraday::ConnectionFailed", 0.35),
    ("Net::ReadTimeout", 0.25),
    ("Faraday::ServerError", 0.25),
    ("Faraday::TooManyRequestsError", 0.15),
)
INVENTORY = (("InventoryService::StockMismatch", 0.6), ("Faraday::ConnectionFailed", 0.2), ("Net::ReadTimeout", 0.2))
WAREHOUSE = (("ActiveRecord::StatementInvalid", 0.45), ("PG::ConnectionBad", 0.35), ("Timeout::Error", 0.2))
FEED = (("JSON::ParserError", 0.3), ("Net::ReadTimeout", 0.4), ("Faraday::ServerError", 0.3))
QUALITY = (("DataQuality::AssertionFailed", 0.8), ("ActiveRecord::StatementInvalid", 0.2))

# --------------------------------------------------------------------------------------
# The catalog (fixed code, so seeds/step_timeouts.csv can refer to it).
#
# Timeouts: each step's timeout is ``timeout_s`` when given, else the first "round" value
# at or above max(10 s, 4 x its single-attempt p99), so nearly every step is comfortably
# inside its timeout. THREE SLOW STEPS ARE SET TO TRIP THE TIMEOUT RECOMMENDATION (their p95
# step duration is at or above 80 % of the timeout, and a few percent of their attempts hit
# the timeout and are retried):
#   data_pipeline / customer_analytics    / extract_events          median 22 s, timeout 45 s
#   data_pipeline / warehouse_etl         / load_warehouse          median 28 s, timeout 60 s
#   payments      / reconcile_transactions / fetch_processor_report  median 14 s, timeout 30 s
# Versions: a newer version (1.1.0, 2.1.0) has one step 30 % slower than the older one.
# --------------------------------------------------------------------------------------

_ROUND_TIMEOUTS = (10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200)
_Z99 = 2.3263


@dataclass(frozen=True)
class StepDef:
    name: str
    system: str
    median_ms: float
    sigma: float
    fail_prob: float
    errors: tuple[tuple[str, float], ...]
    after: tuple[str, ...] = ()
    retry_limit: int = 3
    retryable: bool = True
    backoff_s: float = 1.0
    skippable: bool = False
    timeout_s: int = 0  # 0: derived from the duration distribution (see above)

    def __post_init__(self) -> None:
        if not self.timeout_s:
            need = max(10.0, 4.0 * self.median_ms * math.exp(_Z99 * self.sigma) / 1000.0)
            timeout = next((t for t in _ROUND_TIMEOUTS if t >= need), _ROUND_TIMEOUTS[-1])
            object.__setattr__(self, "timeout_s", timeout)

    @property
    def max_attempts(self) -> int:
        return self.retry_limit if self.retryable else 1


@dataclass(frozen=True)
class TaskDef:
    namespace: str
    name: str
    version: str
    weight: float
    description: str
    steps: tuple[StepDef, ...]
    context: tuple[tuple[str, int, int], ...]
    reasons: tuple[str, ...]
    tags: tuple[str, ...]


def _step(
    name: str,
    system: str,
    median_ms: float,
    sigma: float,
    fail: float,
    errors: tuple[tuple[str, float], ...],
    *after: str,
    **kw,
) -> StepDef:
    return StepDef(name, system, median_ms, sigma, fail, errors, tuple(after), **kw)


def _newer(task: TaskDef, version: str, weight: float, slower_step: str, factor: float = 1.3) -> TaskDef:
    """A newer version of a task type where one step got `factor` slower."""
    steps = tuple(
        dataclasses.replace(s, median_ms=s.median_ms * factor) if s.name == slower_step else s for s in task.steps
    )
    assert steps != task.steps, slower_step
    return dataclasses.replace(task, version=version, weight=weight, steps=steps)


NAMESPACES: dict[str, dict] = {
    "ecommerce": {
        "description": "Storefront order lifecycle",
        "queue_median_ms": 400,
        "initiators": ("storefront", "mobile_app", "partner_api", "ops_console"),
        "sources": ("web", "ios", "android", "partner_gateway"),
    },
    "payments": {
        "description": "Billing, payouts and reconciliation",
        "queue_median_ms": 600,
        "initiators": ("billing_scheduler", "storefront", "finance_ops"),
        "sources": ("billing_cron", "web", "admin_console"),
    },
    "data_pipeline": {
        "description": "Analytics extracts and warehouse loads",
        "queue_median_ms": 1800,
        "initiators": ("airflow", "analytics_team", "data_scheduler"),
        "sources": ("airflow", "scheduler", "jupyter"),
    },
    "notifications": {
        "description": "Customer messaging and webhooks",
        "queue_median_ms": 900,
        "initiators": ("event_bus", "marketing_automation", "storefront"),
        "sources": ("kafka", "braze", "web"),
    },
    "inventory": {
        "description": "Stock levels, replenishment and warehouse sync",
        "queue_median_ms": 1200,
        "initiators": ("warehouse_sync", "replenishment_bot", "ops_console"),
        "sources": ("wms", "scheduler", "admin_console"),
    },
}

DEPENDENT_SYSTEMS: dict[str, str] = {
    "orders_db": "Primary orders database (PostgreSQL)",
    "inventory_service": "Internal inventory microservice",
    "fraud_service": "Fraud scoring service",
    "tax_api": "External sales-tax API",
    "stripe_api": "Stripe payments API",
    "shipping_api": "Carrier label and shipment API",
    "sendgrid": "Transactional e-mail provider",
    "event_stream": "Analytics event stream",
    "supplier_feed_api": "Supplier product feed API",
    "s3": "Object storage (AWS S3)",
    "search_index": "Product search cluster",
    "redis_cache": "Redis cache cluster",
    "billing_db": "Billing database",
    "ledger_db": "General ledger database",
    "bank_api": "Bank transfer API",
    "slack_api": "Slack notifications",
    "analytics_db": "Analytics read replica",
    "event_archive": "Event archive (object storage)",
    "spark_cluster": "Spark batch cluster",
    "warehouse": "Data warehouse",
    "bi_api": "BI dashboard API",
    "etl_worker": "ETL worker pool",
    "users_db": "Users database",
    "template_service": "Message template renderer",
    "twilio": "SMS provider",
    "push_gateway": "Mobile push gateway",
    "notifications_db": "Notifications database",
    "webhook_endpoints": "Customer webhook endpoints",
    "forecasting_service": "Demand forecasting service",
    "erp_api": "ERP purchasing API",
    "supplier_api": "Supplier ordering API",
    "warehouse_api": "Warehouse management system API",
}

_PROCESS_ORDER = TaskDef(
    "ecommerce",
    "process_order",
    "1.0.0",
    16.0,
    "Validate, charge and ship a customer order",
    (
        _step("validate_cart", "orders_db", 60, 0.5, 0.008, VALIDATION, retryable=False),
        _step("check_inventory", "inventory_service", 180, 0.6, 0.02, INVENTORY, "validate_cart"),
        _step("fraud_check", "fraud_service", 450, 0.7, 0.015, HTTP, "validate_cart"),
        _step("calculate_tax", "tax_api", 120, 0.5, 0.01, HTTP, "validate_cart"),
        _step("process_payment", "stripe_api", 900, 0.6, 0.03, CARD, "check_inventory", "fraud_check", "calculate_tax"),
        _step("reserve_stock", "inventory_service", 150, 0.5, 0.01, INVENTORY, "process_payment"),
        _step("create_shipment", "shipping_api", 700, 0.7, 0.02, HTTP, "process_payment"),
        _step("update_order_status", "orders_db", 40, 0.4, 0.005, DB, "reserve_stock", "create_shipment"),
        _step("send_confirmation", "sendgrid", 350, 0.6, 0.01, DELIVERY, "update_order_status"),
        _step("publish_order_event", "event_stream", 30, 0.5, 0.005, HTTP, "update_order_status", skippable=True),
    ),
    (("order_id", 10_000_000, 99_999_999), ("customer_id", 100_000, 9_999_999), ("total_cents", 500, 250_000)),
    ("customer checkout", "order resubmitted", "partner order"),
    ("checkout",),
)

_CHARGE_SUBSCRIPTION = TaskDef(
    "payments",
    "charge_subscription",
    "2.0.0",
    8.0,
    "Invoice and charge a subscription renewal",
    (
        _step("load_subscription", "billing_db", 45, 0.5, 0.005, LOOKUP),
        _step("calculate_invoice", "billing_db", 120, 0.6, 0.005, DB, "load_subscription"),
        _step("apply_discounts", "billing_db", 60, 0.5, 0.005, DB, "calculate_invoice"),
        _step("authorize_card", "stripe_api", 800, 0.6, 0.04, CARD, "apply_discounts"),
        _step("capture_payment", "stripe_api", 650, 0.6, 0.02, STRIPE, "authorize_card"),
        _step("record_ledger_entry", "ledger_db", 70, 0.5, 0.005, DB, "capture_payment"),
        _step("send_receipt", "sendgrid", 300, 0.6, 0.01, DELIVERY, "record_ledger_entry", skippable=True),
        _step("schedule_next_renewal", "billing_db", 40, 0.4, 0.003, DB, "record_ledger_entry"),
        _step("publish_billing_event", "event_stream", 30, 0.5, 0.005, HTTP, "schedule_next_renewal", skippable=True),
    ),
    (("subscription_id", 1_000_000, 9_999_999), ("account_id", 100_000, 9_999_999), ("amount_cents", 900, 49_900)),
    ("scheduled renewal", "plan upgrade", "retry after dunning"),
    ("billing",),
)

_DELIVER_WEBHOOK = TaskDef(
    "notifications",
    "deliver_webhook",
    "1.0.0",
    9.0,
    "Deliver an event to a customer webhook",
    (
        _step("load_event", "notifications_db", 20, 0.5, 0.003, LOOKUP),
        _step("resolve_subscriptions", "notifications_db", 35, 0.5, 0.003, DB, "load_event"),
        _step("sign_payload", "etl_worker", 8, 0.3, 0.001, VALIDATION, "resolve_subscriptions"),
        # flaky: customer endpoints fail often, transiently
        _step(
            "post_webhook", "webhook_endpoints", 650, 1.0, 0.18, WEBHOOK, "sign_payload", retry_limit=5, backoff_s=2.0
        ),
        _step("record_delivery", "notifications_db", 25, 0.5, 0.003, DB, "post_webhook"),
        _step("emit_delivery_metrics", "event_stream", 15, 0.5, 0.005, HTTP, "record_delivery", skippable=True),
    ),
    (("event_id", 100_000_000, 999_999_999), ("endpoint_id", 1_000, 99_999)),
    ("event published", "redelivery requested"),
    ("webhooks",),
)

_SYNC_WAREHOUSE_STOCK = TaskDef(
    "inventory",
    "sync_warehouse_stock",
    "1.0.0",
    5.0,
    "Reconcile stock with a warehouse snapshot",
    (
        _step("fetch_warehouse_snapshot", "warehouse_api", 2200, 0.7, 0.02, HTTP),
        # flaky and partly persistent: snapshot mismatches
        _step("diff_stock", "inventory_service", 600, 0.6, 0.10, INVENTORY, "fetch_warehouse_snapshot"),
        _step("apply_adjustments", "inventory_service", 300, 0.6, 0.01, DB, "diff_stock"),
        _step("flag_shrinkage", "inventory_service", 120, 0.5, 0.005, DB, "diff_stock"),
        _step("reconcile_reservations", "inventory_service", 200, 0.6, 0.01, DB, "diff_stock"),
        _step(
            "update_stock_ledger",
            "ledger_db",
            60,
            0.5,
            0.005,
            DB,
            "apply_adjustments",
            "flag_shrinkage",
            "reconcile_reservations",
        ),
        _step("publish_stock_levels", "event_stream", 40, 0.5, 0.005, HTTP, "update_stock_ledger"),
        _step("invalidate_cache", "redis_cache", 20, 0.4, 0.005, CACHE, "publish_stock_levels"),
    ),
    (("warehouse_id", 1, 40), ("snapshot_id", 1_000_000, 9_999_999)),
    ("scheduled sync", "manual recount"),
    ("stock",),
)

CATALOG: tuple[TaskDef, ...] = (
    _PROCESS_ORDER,
    _newer(_PROCESS_ORDER, "1.1.0", 12.0, "fraud_check"),
    TaskDef(
        "ecommerce",
        "process_refund",
        "1.0.0",
        4.0,
        "Refund an order and restock its items",
        (
            _step("validate_refund", "orders_db", 50, 0.5, 0.01, VALIDATION, retryable=False),
            _step("lookup_order", "orders_db", 35, 0.5, 0.005, LOOKUP, "validate_refund"),
            _step("refund_payment", "stripe_api", 1100, 0.6, 0.02, STRIPE, "lookup_order"),
            _step("restock_items", "inventory_service", 200, 0.6, 0.01, INVENTORY, "refund_payment"),
            _step("update_ledger", "ledger_db", 80, 0.5, 0.005, DB, "refund_payment"),
            _step("notify_customer", "sendgrid", 300, 0.6, 0.01, DELIVERY, "restock_items", "update_ledger"),
            _step("close_refund", "orders_db", 30, 0.4, 0.003, DB, "notify_customer"),
        ),
        (("order_id", 10_000_000, 99_999_999), ("refund_id", 1_000_000, 9_999_999)),
        ("customer request", "chargeback", "damaged item"),
        ("refunds",),
    ),
    TaskDef(
        "ecommerce",
        "sync_product_catalog",
        "1.0.0",
        3.0,
        "Import a supplier product feed",
        (
            _step("fetch_catalog_feed", "supplier_feed_api", 2500, 0.8, 0.03, FEED),
            _step("normalize_prices", "etl_worker", 900, 0.7, 0.005, VALIDATION, "fetch_catalog_feed"),
            _step("normalize_images", "s3", 1800, 0.9, 0.02, S3, "fetch_catalog_feed"),
            _step("normalize_descriptions", "etl_worker", 700, 0.7, 0.005, VALIDATION, "fetch_catalog_feed"),
            _step(
                "merge_catalog",
                "orders_db",
                900,
                0.6,
                0.01,
                DB,
                "normalize_prices",
                "normalize_images",
                "normalize_descriptions",
            ),
            _step("publish_catalog", "search_index", 1500, 0.7, 0.02, HTTP, "merge_catalog"),
            _step("invalidate_cache", "redis_cache", 25, 0.4, 0.005, CACHE, "publish_catalog"),
            _step("notify_merchandising", "slack_api", 200, 0.5, 0.01, HTTP, "publish_catalog", skippable=True),
        ),
        (("supplier_id", 100, 999), ("feed_id", 1_000_000, 9_999_999)),
        ("scheduled import", "supplier push"),
        ("catalog",),
    ),
    _CHARGE_SUBSCRIPTION,
    _newer(_CHARGE_SUBSCRIPTION, "2.1.0", 6.0, "authorize_card"),
    TaskDef(
        "payments",
        "settle_payouts",
        "1.0.0",
        1.5,
        "Pay out a merchant balance",
        (
            _step("fetch_balance", "stripe_api", 700, 0.6, 0.01, STRIPE),
            _step("calculate_fees", "billing_db", 300, 0.6, 0.005, DB, "fetch_balance"),
            # slow, heavy tail, but comfortably inside its timeout
            _step("transfer_funds", "bank_api", 15_000, 1.0, 0.03, HTTP, "calculate_fees", backoff_s=5.0),
            _step("generate_statement", "s3", 2000, 0.7, 0.01, S3, "calculate_fees"),
            _step("record_ledger_entry", "ledger_db", 70, 0.5, 0.005, DB, "transfer_funds", "generate_statement"),
            _step("notify_finance", "slack_api", 250, 0.5, 0.01, HTTP, "record_ledger_entry", skippable=True),
        ),
        (("merchant_id", 10_000, 999_999), ("payout_id", 1_000_000, 9_999_999)),
        ("daily payout", "instant payout"),
        ("payouts",),
    ),
    TaskDef(
        "payments",
        "reconcile_transactions",
        "1.0.0",
        1.0,
        "Match processor reports to the ledger",
        (
            # TRIPS ITS TIMEOUT (see the catalog header)
            _step("fetch_processor_report", "stripe_api", 14_000, 0.5, 0.02, STRIPE, timeout_s=30, backoff_s=5.0),
            _step("parse_report", "etl_worker", 2500, 0.6, 0.01, FEED, "fetch_processor_report"),
            _step("match_transactions", "ledger_db", 11_000, 0.9, 0.01, DB, "parse_report"),
            _step("flag_discrepancies", "ledger_db", 400, 0.6, 0.005, DB, "match_transactions"),
            _step("post_adjustments", "ledger_db", 250, 0.6, 0.005, DB, "flag_discrepancies"),
            _step("archive_report", "s3", 800, 0.6, 0.01, S3, "flag_discrepancies"),
            _step(
                "notify_finance",
                "slack_api",
                250,
                0.5,
                0.01,
                HTTP,
                "post_adjustments",
                "archive_report",
                skippable=True,
            ),
        ),
        (("report_date_offset", 0, 7), ("processor_account_id", 1_000, 9_999)),
        ("nightly reconciliation", "finance request"),
        ("reconciliation",),
    ),
    TaskDef(
        "data_pipeline",
        "customer_analytics",
        "1.0.0",
        2.0,
        "Build customer metrics",
        (
            _step("extract_orders", "analytics_db", 12_000, 1.0, 0.01, WAREHOUSE),
            _step("extract_users", "analytics_db", 6000, 0.9, 0.01, WAREHOUSE),
            # TRIPS ITS TIMEOUT (see the catalog header)
            _step("extract_events", "event_archive", 22_000, 0.45, 0.01, S3, timeout_s=45, backoff_s=5.0),
            _step(
                "transform_customer_metrics",
                "spark_cluster",
                30_000,
                1.1,
                0.02,
                WAREHOUSE,
                "extract_orders",
                "extract_users",
                "extract_events",
            ),
            _step("load_warehouse", "warehouse", 9000, 0.8, 0.01, WAREHOUSE, "transform_customer_metrics"),
            _step("update_dashboards", "bi_api", 2000, 0.7, 0.02, HTTP, "transform_customer_metrics"),
            _step("refresh_materialized_views", "warehouse", 15_000, 0.9, 0.01, WAREHOUSE, "load_warehouse"),
            _step(
                "run_quality_checks", "warehouse", 3000, 0.6, 0.04, QUALITY, "refresh_materialized_views", retry_limit=2
            ),
            _step(
                "notify_analysts",
                "slack_api",
                200,
                0.5,
                0.01,
                HTTP,
                "run_quality_checks",
                "update_dashboards",
                skippable=True,
            ),
            _step("cleanup_staging", "s3", 600, 0.6, 0.01, S3, "run_quality_checks"),
        ),
        (("segment_id", 1, 500), ("run_id", 1_000_000, 9_999_999)),
        ("hourly refresh", "analyst request"),
        ("analytics",),
    ),
    TaskDef(
        "data_pipeline",
        "warehouse_etl",
        "3.0.0",
        2.0,
        "Extract, transform and load the warehouse",
        (
            _step("extract_orders", "analytics_db", 4000, 0.8, 0.01, WAREHOUSE),
            _step("extract_payments", "ledger_db", 3500, 0.8, 0.01, WAREHOUSE),
            _step("extract_inventory", "inventory_service", 2500, 0.7, 0.01, WAREHOUSE),
            _step("extract_shipments", "shipping_api", 3000, 0.8, 0.02, HTTP),
            _step(
                "validate_extracts",
                "etl_worker",
                1200,
                0.6,
                0.02,
                QUALITY,
                "extract_orders",
                "extract_payments",
                "extract_inventory",
                "extract_shipments",
                retryable=False,
            ),
            _step("transform_facts", "spark_cluster", 12_000, 0.9, 0.01, WAREHOUSE, "validate_extracts"),
            _step("transform_dimensions", "spark_cluster", 6000, 0.8, 0.01, WAREHOUSE, "validate_extracts"),
            # TRIPS ITS TIMEOUT (see the catalog header)
            _step(
                "load_warehouse",
                "warehouse",
                28_000,
                0.4,
                0.01,
                WAREHOUSE,
                "transform_facts",
                "transform_dimensions",
                timeout_s=60,
                backoff_s=5.0,
            ),
            _step("run_quality_checks", "warehouse", 3000, 0.6, 0.03, QUALITY, "load_warehouse", retry_limit=2),
            _step("refresh_materialized_views", "warehouse", 10_000, 0.9, 0.01, WAREHOUSE, "load_warehouse"),
            _step("publish_lineage", "event_stream", 300, 0.5, 0.01, HTTP, "run_quality_checks", skippable=True),
            _step(
                "notify_analysts",
                "slack_api",
                200,
                0.5,
                0.01,
                HTTP,
                "run_quality_checks",
                "refresh_materialized_views",
                skippable=True,
            ),
        ),
        (("batch_id", 1_000_000, 9_999_999), ("partition_hour", 0, 23)),
        ("scheduled load", "backfill"),
        ("etl",),
    ),
    TaskDef(
        "data_pipeline",
        "export_to_s3",
        "1.0.0",
        3.0,
        "Export a dataset to S3 as Parquet",
        (
            _step("query_dataset", "analytics_db", 1500, 0.8, 0.01, WAREHOUSE),
            _step("write_parquet", "etl_worker", 900, 0.6, 0.005, VALIDATION, "query_dataset"),
            _step("upload_to_s3", "s3", 1200, 0.7, 0.02, S3, "write_parquet"),
        ),
        (("dataset_id", 1, 300), ("export_id", 1_000_000, 9_999_999)),
        ("partner export", "scheduled export"),
        ("export",),
    ),
    TaskDef(
        "notifications",
        "send_welcome_sequence",
        "1.0.0",
        6.0,
        "Welcome a new user on all channels",
        (
            _step("load_user", "users_db", 30, 0.5, 0.005, LOOKUP),
            _step("check_preferences", "users_db", 25, 0.5, 0.003, DB, "load_user"),
            _step("render_template", "template_service", 90, 0.6, 0.005, VALIDATION, "check_preferences"),
            _step("send_email", "sendgrid", 350, 0.6, 0.01, DELIVERY, "render_template"),
            _step("send_sms", "twilio", 600, 0.7, 0.03, DELIVERY, "render_template"),
            _step("send_push", "push_gateway", 250, 0.6, 0.02, DELIVERY, "render_template", skippable=True),
            _step("record_delivery", "notifications_db", 30, 0.5, 0.003, DB, "send_email", "send_sms", "send_push"),
            _step("schedule_followup", "notifications_db", 25, 0.5, 0.003, DB, "record_delivery"),
        ),
        (("user_id", 100_000, 9_999_999), ("campaign_id", 1, 200)),
        ("user signed up",),
        ("onboarding",),
    ),
    _DELIVER_WEBHOOK,
    _newer(_DELIVER_WEBHOOK, "1.1.0", 7.0, "post_webhook"),
    TaskDef(
        "notifications",
        "send_digest_email",
        "1.0.0",
        3.0,
        "Send the daily activity digest",
        (
            _step("gather_activity", "analytics_db", 1200, 0.7, 0.01, WAREHOUSE),
            _step("rank_items", "etl_worker", 400, 0.6, 0.005, VALIDATION, "gather_activity"),
            _step("render_template", "template_service", 150, 0.6, 0.005, VALIDATION, "rank_items"),
            _step("send_email", "sendgrid", 400, 0.6, 0.015, DELIVERY, "render_template"),
            _step("record_delivery", "notifications_db", 25, 0.5, 0.003, DB, "send_email"),
            _step("update_digest_cursor", "notifications_db", 20, 0.4, 0.003, DB, "record_delivery"),
        ),
        (("user_id", 100_000, 9_999_999), ("digest_date_offset", 0, 1)),
        ("daily digest",),
        ("digest",),
    ),
    TaskDef(
        "inventory",
        "restock_inventory",
        "1.0.0",
        3.0,
        "Forecast demand and reorder stock",
        (
            _step("check_stock_levels", "inventory_service", 150, 0.6, 0.005, DB),
            _step("forecast_demand", "forecasting_service", 8000, 0.9, 0.02, HTTP, "check_stock_levels"),
            _step("create_purchase_order", "erp_api", 1100, 0.7, 0.02, HTTP, "forecast_demand"),
            _step("reserve_budget", "ledger_db", 90, 0.5, 0.005, DB, "forecast_demand"),
            # flaky supplier integration
            _step(
                "notify_supplier",
                "supplier_api",
                900,
                0.8,
                0.12,
                WEBHOOK,
                "create_purchase_order",
                "reserve_budget",
                backoff_s=3.0,
            ),
            _step("update_stock_ledger", "ledger_db", 60, 0.5, 0.005, DB, "notify_supplier"),
            _step("notify_buyers", "slack_api", 200, 0.5, 0.01, HTTP, "update_stock_ledger", skippable=True),
        ),
        (("sku_group_id", 1, 5_000), ("warehouse_id", 1, 40)),
        ("low stock", "seasonal plan"),
        ("replenishment",),
    ),
    _SYNC_WAREHOUSE_STOCK,
    _newer(_SYNC_WAREHOUSE_STOCK, "1.1.0", 3.0, "diff_stock"),
)


def _topological_check() -> None:
    """The catalog lists steps in dependency order; fail loudly if an edit breaks that."""
    for td in CATALOG:
        seen: set[str] = set()
        for s in td.steps:
            assert s.name not in seen, (td.name, s.name)
            assert all(p in seen for p in s.after), (td.name, s.name)
            assert s.system in DEPENDENT_SYSTEMS, s.system
            assert all(c in ERROR_CLASSES for c, _ in s.errors), s.name
            seen.add(s.name)
    versions = [(td.namespace, td.name, td.version) for td in CATALOG]
    assert len(set(versions)) == len(versions)


_topological_check()


def step_timeout_rows() -> list[tuple[str, str, str, int]]:
    """(namespace, task_name, step_name, timeout_seconds) per step of the catalog:
    the content of seeds/step_timeouts.csv. Versions of one task share a timeout."""
    rows: dict[tuple[str, str, str], int] = {}
    for td in CATALOG:
        for s in td.steps:
            key = (td.namespace, td.name, s.name)
            assert rows.setdefault(key, s.timeout_s) == s.timeout_s, key
    return [(*key, t) for key, t in rows.items()]


# --------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------

PENDING, IN_PROGRESS, COMPLETE, ERROR, CANCELLED, RESOLVED = range(6)
STATES = ("pending", "in_progress", "complete", "error", "cancelled", "resolved_manually")
_NEVER = np.iinfo(np.int64).max // 4

_STALLED_SHARE = 0.0005  # never picked up; and, separately, a worker died mid-step
_SKEW_SHARE = 0.0005
_CANCEL_SHARE = 0.01
_RESOLVE_SHARE = 0.2
_ERROR_METADATA_SHARE = 0.85
_STICKY_REPEAT = 0.85
_STEP_QUEUE_MEDIAN_MS = 35.0
_INCIDENT = {"system": "stripe_api", "start_h": 3.0, "end_h": 2.0 + 1.0 / 3.0, "fail_mult": 8.0, "slow": 1.6}
_MS_PER_HOUR = 3_600_000


@dataclass
class _Events:
    """Flattened transitions of one entity kind, grouped by entity in time order."""

    entity: np.ndarray  # int64 (0-based task or step index)
    time: np.ndarray  # int64 ms since epoch
    to: np.ndarray  # int8 state code
    cls: np.ndarray | None = None  # int16 error class (-1 none), steps only
    attempt: np.ndarray | None = None  # int16, steps only

    @staticmethod
    def concat(parts: list[_Events], with_error: bool) -> _Events:
        def cat(name: str, dtype) -> np.ndarray:
            arrays = [getattr(p, name) for p in parts]
            return np.concatenate(arrays) if arrays else np.zeros(0, dtype)

        return _Events(
            cat("entity", np.int64),
            cat("time", np.int64),
            cat("to", np.int8),
            cat("cls", np.int16) if with_error else None,
            cat("attempt", np.int16) if with_error else None,
        )


def _lognormal(rng: np.random.Generator, median: float | np.ndarray, sigma: float, size: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(size))


def _ms(x: np.ndarray) -> np.ndarray:
    return np.maximum(1, np.rint(x)).astype(np.int64)


def _simulate_type(
    td: TaskDef,
    rng: np.random.Generator,
    created: np.ndarray,
    lost: np.ndarray,
    zombie_root: np.ndarray,
    first_step: np.ndarray,
    task_index: np.ndarray,
    as_of_ms: int,
) -> tuple[_Events, _Events]:
    """Simulate the tasks of one task type. Returns (step events, task events).

    Timelines live in an (task, step, slot) matrix: attempt k uses slots 3k (start),
    3k+1 (complete/error) and 3k+2 (retry -> pending); the last slot holds a final
    cancelled / resolved_manually. Flattening the kept cells yields, per step, its
    transitions in time order.
    """
    n, S = created.size, len(td.steps)
    E = 3 * max(s.max_attempts for s in td.steps) + 1
    T = np.full((n, S, E), _NEVER, np.int64)
    ST = np.zeros((n, S, E), np.int8)
    CL = np.full((n, S, E), -1, np.int16)
    done = np.full((n, S), _NEVER, np.int64)  # completion time
    exhausted = np.zeros((n, S), bool)
    natural_last = np.full((n, S), -1, np.int8)  # last slot before cancel/resolve
    last_event = np.zeros(n, np.int64)
    stuck = np.zeros(n, bool)

    queue_median = NAMESPACES[td.namespace]["queue_median_ms"]
    task_start = created + _ms(_lognormal(rng, queue_median, 0.8, n))
    task_start[lost] = _NEVER
    last_event[:] = np.where(lost, 0, task_start)

    inc_start = as_of_ms - int(_INCIDENT["start_h"] * _MS_PER_HOUR)
    inc_end = as_of_ms - int(_INCIDENT["end_h"] * _MS_PER_HOUR)
    names = [s.name for s in td.steps]

    for s, sd in enumerate(td.steps):
        parents = [names.index(p) for p in sd.after]
        if parents:
            pdone = done[:, parents]
            runnable = (pdone < _NEVER).all(axis=1)
            ready = pdone.max(axis=1)
        else:
            runnable = task_start < _NEVER
            ready = task_start
        idx = np.flatnonzero(runnable)
        start = ready[idx] + _ms(_lognormal(rng, _STEP_QUEUE_MEDIAN_MS, 0.7, idx.size))
        sticky = np.full(idx.size, -1, np.int16)
        cls_ids = np.array([_ERROR_INDEX[c] for c, _ in sd.errors], np.int16)
        cls_cum = np.cumsum([w for _, w in sd.errors])
        cls_cum = cls_cum / cls_cum[-1]
        timeout_ms = sd.timeout_s * 1000
        on_incident_system = sd.system == _INCIDENT["system"]
        for k in range(sd.max_attempts):
            m = idx.size
            if m == 0:
                break
            T[idx, s, 3 * k] = start
            ST[idx, s, 3 * k] = IN_PROGRESS
            natural_last[idx, s] = 3 * k
            if k == 0 and not parents:
                dead = zombie_root[idx] == s
                if dead.any():  # the worker died: no end, dependents never run
                    stuck[idx[dead]] = True
                    last_event[idx[dead]] = np.maximum(last_event[idx[dead]], start[dead])
                    keep = ~dead
                    idx, start, sticky, m = idx[keep], start[keep], sticky[keep], int(keep.sum())
            dur = _lognormal(rng, sd.median_ms, sd.sigma, m)
            fail_p = np.full(m, sd.fail_prob)
            if on_incident_system:
                during = (start > inc_start) & (start <= inc_end)
                dur = np.where(during, dur * _INCIDENT["slow"], dur)
                fail_p = np.where(during, min(0.5, sd.fail_prob * _INCIDENT["fail_mult"]), fail_p)
            timed_out = dur > timeout_ms
            random_fail = rng.random(m) < fail_p
            repeat_fail = (sticky >= 0) & (rng.random(m) < _STICKY_REPEAT)
            drawn = cls_ids[np.minimum(np.searchsorted(cls_cum, rng.random(m), side="right"), cls_ids.size - 1)]
            cls = np.where(repeat_fail, sticky, drawn)
            cls = np.where(timed_out, _ERROR_INDEX[TIMEOUT_ERROR_CLASS], cls).astype(np.int16)
            fail = timed_out | random_fail | repeat_fail
            # errors surface part-way through the attempt; timeouts exactly at the limit
            elapsed = np.where(fail, dur * rng.uniform(0.05, 1.0, m), dur)
            elapsed = _ms(np.where(timed_out, timeout_ms, elapsed))
            end = start + elapsed
            T[idx, s, 3 * k + 1] = end
            ST[idx, s, 3 * k + 1] = np.where(fail, ERROR, COMPLETE)
            CL[idx[fail], s, 3 * k + 1] = cls[fail]
            natural_last[idx, s] = 3 * k + 1
            last_event[idx] = np.maximum(last_event[idx], end)
            ok = ~fail
            done[idx[ok], s] = end[ok]
            persistent = fail & _PERSISTENT[cls]
            sticky = np.where(persistent & (sticky < 0), cls, sticky).astype(np.int16)
            if k == sd.max_attempts - 1:
                exhausted[idx[fail], s] = True
                break
            idx, end, sticky = idx[fail], end[fail], sticky[fail]
            retry_at = end + rng.integers(2, 40, idx.size)
            T[idx, s, 3 * k + 2] = retry_at
            ST[idx, s, 3 * k + 2] = PENDING
            natural_last[idx, s] = 3 * k + 2
            backoff_s = np.minimum(30.0, sd.backoff_s * 2.0**k) * rng.uniform(0.5, 1.5, idx.size)
            start = retry_at + _ms(backoff_s * 1000.0)

    # Task outcome: settles just after its last step settles.
    all_done = (done < _NEVER).all(axis=1)
    settles = (task_start < _NEVER) & ~stuck & (all_done | exhausted.any(axis=1))
    TT = np.full((n, 3), _NEVER, np.int64)
    TS = np.zeros((n, 3), np.int8)
    TT[:, 0], TS[:, 0] = task_start, IN_PROGRESS
    task_end = np.where(settles, last_event + rng.integers(3, 60, n), _NEVER)
    TT[:, 1], TS[:, 1] = task_end, np.where(all_done, COMPLETE, ERROR)

    # Cancellations: at a random point of the run.
    cancel = settles & (rng.random(n) < _CANCEL_SHARE)
    ci = np.flatnonzero(cancel)
    if ci.size:
        run = task_end[ci] - task_start[ci]
        at = task_start[ci] + 1 + (rng.uniform(0.05, 0.95, ci.size) * (run - 1)).astype(np.int64)
        sub = T[ci]
        sub[sub >= at[:, None, None]] = _NEVER
        kept = sub < _NEVER
        count = kept.sum(axis=2)
        last = (E - 1) - np.argmax(kept[:, :, ::-1], axis=2)
        last_state = np.take_along_axis(ST[ci], last[:, :, None], axis=2)[:, :, 0]
        # Tasker allows no error -> cancelled: a step between a failure and its retry stays
        unsettled = (count > 0) & (last != natural_last[ci]) & (last_state != ERROR)
        sub[:, :, E - 1] = np.where(unsettled, at[:, None], _NEVER)
        T[ci] = sub
        ST[ci, :, E - 1] = np.where(unsettled, CANCELLED, 0)
        TT[ci, 1], TS[ci, 1] = at, CANCELLED

    # Manual resolution of a share of the failed tasks, minutes to hours later.
    resolve = settles & ~all_done & ~cancel & (rng.random(n) < _RESOLVE_SHARE)
    ri = np.flatnonzero(resolve)
    if ri.size:
        delay = np.maximum(60_000, _ms(_lognormal(rng, 25 * 60_000, 1.1, ri.size)))
        at = task_end[ri] + delay
        TT[ri, 2], TS[ri, 2] = at, RESOLVED
        failed = exhausted[ri]
        step_at = at[:, None] - rng.integers(200, 5000, (ri.size, S))
        T[ri, :, E - 1] = np.where(failed, step_at, _NEVER)
        ST[ri, :, E - 1] = np.where(failed, RESOLVED, 0)

    # Keep what happened up to as_of.
    flat = np.flatnonzero(T.reshape(-1) <= as_of_ms)
    task_local = flat // (S * E)
    slot = flat % E
    steps = _Events(
        entity=first_step[task_local] + (flat // E) % S,
        time=T.reshape(-1)[flat],
        to=ST.reshape(-1)[flat],
        cls=CL.reshape(-1)[flat],
        attempt=(slot // 3 + 1).astype(np.int16),
    )
    tflat = np.flatnonzero(TT.reshape(-1) <= as_of_ms)
    tasks = _Events(entity=task_index[tflat // 3], time=TT.reshape(-1)[tflat], to=TS.reshape(-1)[tflat])
    return steps, tasks


def _runs(entity: np.ndarray, to: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sort_key, most_recent and from_state of events grouped by entity in time order."""
    n = entity.size
    first = np.ones(n, bool)
    first[1:] = entity[1:] != entity[:-1]
    pos = np.arange(n)
    run_start = np.maximum.accumulate(np.where(first, pos, 0))
    sort_key = (pos - run_start + 1).astype(np.int32)
    most_recent = np.ones(n, bool)
    most_recent[:-1] = first[1:]
    from_state = np.empty(n, np.int8)
    from_state[1:] = to[:-1]
    from_state[first] = PENDING
    return sort_key, most_recent, from_state


def _last_per_entity(entity: np.ndarray, values: np.ndarray, size: int, fill, dtype) -> np.ndarray:
    """For events grouped by entity in time order: the last value of each entity."""
    out = np.full(size, fill, dtype)
    if entity.size:
        last = np.ones(entity.size, bool)
        last[:-1] = entity[1:] != entity[:-1]
        out[entity[last]] = values[last]
    return out


# --------------------------------------------------------------------------------------
# Arrow helpers
# --------------------------------------------------------------------------------------


def _ts(ms: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    values = ms.astype(np.int64).view("datetime64[ms]")
    return pa.array(values, mask=None if valid is None else ~valid)


def _strings(values) -> pa.Array:
    return pa.array(list(values), pa.string())


def _num(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _scatter(size: int, pieces: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """A string array of `size` rows holding pieces[i][1] at rows pieces[i][0], null elsewhere."""
    pos = np.full(size, -1, np.int64)
    offset = 0
    for rows, _values in pieces:
        pos[rows] = offset + np.arange(rows.size)
        offset += rows.size
    values = pa.concat_arrays([v for _, v in pieces]) if pieces else pa.array([], pa.string())
    return values.take(pa.array(pos, mask=pos < 0))


def _hex_digests(rng: np.random.Generator, n: int) -> pa.Array:
    raw = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    out = np.empty((n, 64), np.uint8)
    out[:, 0::2] = digits[raw >> 4]
    out[:, 1::2] = digits[raw & 15]
    offsets = np.arange(0, 64 * (n + 1), 64, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out.tobytes())])


def _table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = arrow_schema(name)
    assert list(columns) == schema.names, (name, list(columns))
    return pa.table([columns[f.name].cast(f.type) for f in schema], schema=schema)


# --------------------------------------------------------------------------------------
# generate_workload
# --------------------------------------------------------------------------------------


def _to_ms(ts: datetime) -> int:
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return (ts - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


def _sample_created(rng: np.random.Generator, n: int, as_of_ms: int, span_ms: int) -> np.ndarray:
    """n creation times in (as_of - span, as_of], busier in the (UTC) afternoon."""
    bin_ms = 60_000
    edges = np.minimum(np.arange(0, span_ms + bin_ms, bin_ms, dtype=np.int64), span_ms)
    edges = np.unique(edges)
    width = np.diff(edges)
    mid = as_of_ms - (edges[:-1] + edges[1:]) / 2  # bins go back in time from as_of
    hour = (mid / _MS_PER_HOUR) % 24
    weight = (1 + 0.35 * np.cos(2 * np.pi * (hour - 15) / 24)) * width
    cdf = np.cumsum(weight) / weight.sum()
    b = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), width.size - 1)
    back = edges[b] + (rng.random(n) * width[b]).astype(np.int64)
    return np.sort(as_of_ms - back)


def generate_workload(
    tasks: int, seed: int, as_of: datetime, history_hours: float = 192.0, progress: bool = False
) -> dict[str, pa.Table]:
    """Generate the nine Tasker tables for `tasks` tasks created in
    (as_of - history_hours, as_of], simulated up to as_of. Deterministic in its arguments."""
    from tqdm import tqdm

    if tasks < 0:
        raise ValueError("tasks must be >= 0")
    span_ms = round(history_hours * _MS_PER_HOUR)
    if not span_ms >= 1:
        raise ValueError("history_hours must be positive")
    as_of_ms = _to_ms(as_of)
    bar = tqdm(
        total=len(CATALOG) + 5, desc="generate", unit="stage", file=sys.stderr, disable=not progress, leave=False
    )
    rng = np.random.default_rng(seed)
    n = tasks

    # ---- static catalog tables
    catalog_ms = as_of_ms - span_ms - 30 * 24 * _MS_PER_HOUR
    catalog_ms -= catalog_ms % 1000
    ns_names = list(NAMESPACES)
    sys_names = list(DEPENDENT_SYSTEMS)
    named_steps: dict[tuple[str, str], int] = {}
    for td in CATALOG:
        for s in td.steps:
            named_steps.setdefault((s.system, s.name), len(named_steps))
    tables: dict[str, pa.Table] = {}

    def stamps(k: int) -> dict[str, pa.Array]:
        a = _ts(np.full(k, catalog_ms, np.int64))
        return {"created_at": a, "updated_at": a}

    tables["tasker_task_namespaces"] = _table(
        "tasker_task_namespaces",
        {
            "task_namespace_id": pa.array(np.arange(1, len(ns_names) + 1)),
            "name": _strings(ns_names),
            "description": _strings(NAMESPACES[x]["description"] for x in ns_names),
            **stamps(len(ns_names)),
        },
    )
    tables["tasker_named_tasks"] = _table(
        "tasker_named_tasks",
        {
            "named_task_id": pa.array(np.arange(1, len(CATALOG) + 1)),
            "name": _strings(td.name for td in CATALOG),
            "task_namespace_id": pa.array([ns_names.index(td.namespace) + 1 for td in CATALOG]),
            "version": _strings(td.version for td in CATALOG),
            "description": _strings(td.description for td in CATALOG),
            "configuration": _strings(
                json.dumps(
                    {
                        "concurrent": True,
                        "default_dependent_system": td.steps[0].system,
                        "step_templates": [
                            {
                                "name": s.name,
                                "dependent_system": s.system,
                                "depends_on_steps": list(s.after),
                                "default_retryable": s.retryable,
                                "default_retry_limit": s.retry_limit,
                                "skippable": s.skippable,
                                "timeout_seconds": s.timeout_s,
                            }
                            for s in td.steps
                        ],
                    }
                )
                for td in CATALOG
            ),
            **stamps(len(CATALOG)),
        },
    )
    tables["tasker_dependent_systems"] = _table(
        "tasker_dependent_systems",
        {
            "dependent_system_id": pa.array(np.arange(1, len(sys_names) + 1)),
            "name": _strings(sys_names),
            "description": _strings(DEPENDENT_SYSTEMS.values()),
            **stamps(len(sys_names)),
        },
    )
    tables["tasker_named_steps"] = _table(
        "tasker_named_steps",
        {
            "named_step_id": pa.array(np.arange(1, len(named_steps) + 1)),
            "dependent_system_id": pa.array([sys_names.index(sy) + 1 for sy, _ in named_steps]),
            "name": _strings(nm for _, nm in named_steps),
            "description": _strings(f"{nm.replace('_', ' ').capitalize()} via {sy}" for sy, nm in named_steps),
            **stamps(len(named_steps)),
        },
    )

    # ---- per step-definition lookups (global step-def index = type offset + position)
    n_steps_t = np.array([len(td.steps) for td in CATALOG], np.int64)
    step_off_t = np.concatenate([[0], np.cumsum(n_steps_t)[:-1]])
    sd_all = [(td, s) for td in CATALOG for s in td.steps]
    sd_named = np.array([named_steps[(s.system, s.name)] + 1 for _, s in sd_all], np.int32)
    sd_retryable = np.array([s.retryable for _, s in sd_all], bool)
    sd_retry_limit = np.array([s.retry_limit for _, s in sd_all], np.int32)
    sd_skippable = np.array([s.skippable for _, s in sd_all], bool)
    sd_name = _strings(s.name for _, s in sd_all)
    sd_frame = _strings(
        json.dumps(f"app/tasks/{td.namespace}/{td.name}/{s.name}_handler.rb:{40 + 7 * (i % 9)}:in `process'")
        for i, (td, s) in enumerate(sd_all)
    )
    edge_list = [
        [([p.name for p in td.steps].index(a), c) for c, s in enumerate(td.steps) for a in s.after] for td in CATALOG
    ]
    n_edges_t = np.array([len(e) for e in edge_list], np.int64)
    edge_off_t = np.concatenate([[0], np.cumsum(n_edges_t)[:-1]])
    ed_parent = np.array([p for e in edge_list for p, _ in e], np.int64)
    ed_child = np.array([c for e in edge_list for _, c in e], np.int64)

    # ---- tasks: creation times, types, stalled ones
    created = _sample_created(rng, n, as_of_ms, span_ms)
    weights = np.array([td.weight for td in CATALOG])
    ttype = rng.choice(len(CATALOG), size=n, p=weights / weights.sum()).astype(np.int64)
    step_count = n_steps_t[ttype]
    first_step = np.zeros(n, np.int64)
    np.cumsum(step_count[:-1], out=first_step[1:])
    total_steps = int(step_count.sum())
    k_stalled = min(n, math.ceil(_STALLED_SHARE * n))
    order = rng.permutation(n)
    lost = np.zeros(n, bool)
    lost[order[:k_stalled]] = True
    zombie_root = np.full(n, -1, np.int64)
    for t in order[k_stalled : 2 * k_stalled]:
        roots = [i for i, s in enumerate(CATALOG[ttype[t]].steps) if not s.after]
        zombie_root[t] = roots[int(rng.integers(len(roots)))]
    bar.update(1)

    # ---- simulate per task type
    step_parts, task_parts = [], []
    for g, td in enumerate(CATALOG):
        members = np.flatnonzero(ttype == g)
        if members.size:
            se, te = _simulate_type(
                td, rng, created[members], lost[members], zombie_root[members], first_step[members], members, as_of_ms
            )
            step_parts.append(se)
            task_parts.append(te)
        bar.update(1)
    sev = _Events.concat(step_parts, with_error=True)
    tev = _Events.concat(task_parts, with_error=False)
    del step_parts, task_parts
    # task events come per type; regroup them by task (stable keeps time order)
    regroup = np.argsort(tev.entity, kind="stable")
    tev = _Events(tev.entity[regroup], tev.time[regroup], tev.to[regroup])
    step_task = np.repeat(np.arange(n, dtype=np.int64), step_count)

    # ---- clock skew: a few completed tasks settle "before" they were created
    t_sort, t_recent, t_from = _runs(tev.entity, tev.to)
    t_final = _last_per_entity(tev.entity, tev.to, n, PENDING, np.int8)
    t_settle = _last_per_entity(tev.entity, tev.time, n, 0, np.int64)
    eligible = np.flatnonzero(t_final == COMPLETE)
    k_skew = min(eligible.size, math.ceil(_SKEW_SHARE * n))
    shift = np.zeros(n, np.int64)
    if k_skew:
        chosen = np.sort(rng.choice(eligible, size=k_skew, replace=False))
        shift[chosen] = t_settle[chosen] - created[chosen] + rng.integers(1_000, 120_000, k_skew)
        tev.time -= shift[tev.entity]
        sev.time -= shift[step_task[sev.entity]]
        t_settle -= shift
    bar.update(1)

    # ---- tasks table
    task_last = np.where(t_final != PENDING, t_settle, created)
    ns_of_type = np.array([ns_names.index(td.namespace) for td in CATALOG], np.int64)
    ns_t = ns_of_type[ttype]
    pools = {}
    for key in ("initiators", "sources"):
        flat = [v for x in ns_names for v in NAMESPACES[x][key]]
        sizes = np.array([len(NAMESPACES[x][key]) for x in ns_names], np.int64)
        offs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pick = offs[ns_t] + (rng.random(n) * sizes[ns_t]).astype(np.int64)
        pools[key] = _strings(flat).take(pa.array(pick))
    reasons_flat = [r for td in CATALOG for r in td.reasons]
    r_sizes = np.array([len(td.reasons) for td in CATALOG], np.int64)
    r_offs = np.concatenate([[0], np.cumsum(r_sizes)[:-1]])
    reason = _strings(reasons_flat).take(pa.array(r_offs[ttype] + (rng.random(n) * r_sizes[ttype]).astype(np.int64)))
    priority = np.searchsorted(np.cumsum([0.8, 0.15, 0.05]), rng.random(n), side="right")
    tag_prefix = _strings(json.dumps([td.namespace, *td.tags])[:-1] for td in CATALOG)
    tags = _join(
        tag_prefix.take(pa.array(ttype)),
        _strings(f', "priority:{p}"]' for p in ("normal", "high", "low")).take(pa.array(np.minimum(priority, 2))),
    )
    ctx_pieces = []
    for g, td in enumerate(CATALOG):
        members = np.flatnonzero(ttype == g)
        parts: list = ["{"]
        for i, (key, lo, hi) in enumerate(td.context):
            parts += [("" if i == 0 else ", ") + json.dumps(key) + ": ", _num(rng.integers(lo, hi + 1, members.size))]
        parts.append("}")
        ctx_pieces.append((members, _join(*parts) if members.size else pa.array([], pa.string())))
    context = _scatter(n, ctx_pieces)
    tables["tasker_tasks"] = _table(
        "tasker_tasks",
        {
            "task_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "named_task_id": pa.array((ttype + 1).astype(np.int32)),
            "complete": pa.array(t_final == COMPLETE),
            "requested_at": _ts(created),
            "initiator": pools["initiators"],
            "source_system": pools["sources"],
            "reason": reason,
            "bypass_steps": pa.nulls(n, pa.string()),
            "tags": tags,
            "context": context,
            "identity_hash": _hex_digests(rng, n),
            "created_at": _ts(created),
            "updated_at": _ts(np.maximum(created, task_last)),
        },
    )
    bar.update(1)

    # ---- workflow steps and edges
    s_local = np.arange(total_steps, dtype=np.int64) - first_step[step_task]
    sdef = step_off_t[ttype[step_task]] + s_local
    s_sort, s_recent, s_from = _runs(sev.entity, sev.to)
    s_final = _last_per_entity(sev.entity, sev.to, total_steps, PENDING, np.int8)
    s_final_at = _last_per_entity(sev.entity, sev.time, total_steps, 0, np.int64)
    started = sev.to == IN_PROGRESS
    attempts = np.bincount(sev.entity[started], minlength=total_steps).astype(np.int32)
    last_attempt = _last_per_entity(sev.entity[started], sev.time[started], total_steps, 0, np.int64)
    err = sev.to == ERROR
    last_error = _last_per_entity(sev.entity[err], sev.cls[err], total_steps, -1, np.int16)
    step_created = created[step_task]
    done_rows = np.flatnonzero(s_final == COMPLETE)
    fail_rows = np.flatnonzero((s_final != COMPLETE) & (last_error >= 0))
    class_names = _strings(_ERROR_NAMES)
    class_msgs = _strings(json.dumps(ERROR_CLASSES[c][0]) for c in _ERROR_NAMES)
    class_frames = _strings(json.dumps(ERROR_CLASSES[c][1]) for c in _ERROR_NAMES)
    tasker_frames = (
        ', "tasker-engine/lib/tasker/step_handler/base.rb:83:in `handle\'"'
        ', "tasker-engine/lib/tasker/orchestration/step_executor.rb:212:'
        "in `execute_single_step'\"]}"
    )
    fc = pa.array(last_error[fail_rows].astype(np.int64))
    results = _scatter(
        total_steps,
        [
            (
                done_rows,
                _join(
                    '{"status": "ok", "step": "',
                    sd_name.take(pa.array(sdef[done_rows])),
                    '", "elapsed_ms": ',
                    _num(s_final_at[done_rows] - last_attempt[done_rows]),
                    "}",
                ),
            ),
            (
                fail_rows,
                _join(
                    '{"error": ',
                    class_msgs.take(fc),
                    ', "error_class": "',
                    class_names.take(fc),
                    '", "backtrace": [',
                    class_frames.take(fc),
                    ", ",
                    sd_frame.take(pa.array(sdef[fail_rows])),
                    tasker_frames,
                ),
            ),
        ],
    )
    has_attempts = attempts > 0
    tables["tasker_workflow_steps"] = _table(
        "tasker_workflow_steps",
        {
            "workflow_step_id": pa.array(np.arange(1, total_steps + 1, dtype=np.int64)),
            "task_id": pa.array(step_task + 1),
            "named_step_id": pa.array(sd_named[sdef]),
            "retryable": pa.array(sd_retryable[sdef]),
            "retry_limit": pa.array(sd_retry_limit[sdef]),
            "in_process": pa.array(s_final == IN_PROGRESS),
            "processed": pa.array(s_final == COMPLETE),
            "processed_at": _ts(s_final_at, s_final == COMPLETE),
            "attempts": pa.array(attempts, mask=~has_attempts),
            "last_attempted_at": _ts(last_attempt, has_attempts),
            "backoff_request_seconds": pa.nulls(total_steps, pa.int32()),
            "inputs": context.take(pa.array(step_task)),
            "results": results,
            "skippable": pa.array(sd_skippable[sdef]),
            "created_at": _ts(step_created),
            "updated_at": _ts(np.where(s_final != PENDING, np.maximum(step_created, s_final_at), step_created)),
        },
    )
    del results, last_attempt, s_final_at
    edge_count = n_edges_t[ttype]
    first_edge = np.zeros(n, np.int64)
    np.cumsum(edge_count[:-1], out=first_edge[1:])
    total_edges = int(edge_count.sum())
    edge_task = np.repeat(np.arange(n, dtype=np.int64), edge_count)
    edef = edge_off_t[ttype[edge_task]] + np.arange(total_edges) - first_edge[edge_task]
    edge_created = _ts(created[edge_task])
    tables["tasker_workflow_step_edges"] = _table(
        "tasker_workflow_step_edges",
        {
            "id": pa.array(np.arange(1, total_edges + 1, dtype=np.int64)),
            "from_step_id": pa.array(first_step[edge_task] + ed_parent[edef] + 1),
            "to_step_id": pa.array(first_step[edge_task] + ed_child[edef] + 1),
            "name": _strings(["provides"]).take(pa.array(np.zeros(total_edges, np.int64))),
            "created_at": edge_created,
            "updated_at": edge_created,
        },
    )
    bar.update(1)

    # ---- transitions, ids ascending with time
    state_names = _strings(STATES)
    task_meta = _strings(
        [
            "{}",
            "{}",
            "{}",
            '{"reason": "step_failures"}',
            '{"reason": "cancelled_by_initiator"}',
            '{"resolved_by": "ops_oncall", "note": "failed steps resolved manually"}',
        ]
    )
    tord = np.argsort(tev.time, kind="stable")
    t_ts = _ts(tev.time[tord])
    tables["tasker_task_transitions"] = _table(
        "tasker_task_transitions",
        {
            "id": pa.array(np.arange(1, tord.size + 1, dtype=np.int64)),
            "task_id": pa.array(tev.entity[tord] + 1),
            "from_state": state_names.take(pa.array(t_from[tord])),
            "to_state": state_names.take(pa.array(tev.to[tord])),
            "metadata": task_meta.take(pa.array(tev.to[tord])),
            "sort_key": pa.array(t_sort[tord]),
            "most_recent": pa.array(t_recent[tord]),
            "created_at": t_ts,
            "updated_at": t_ts,
        },
    )

    sord = np.argsort(sev.time, kind="stable")
    to_sorted = sev.to[sord]
    err_rows = np.flatnonzero(to_sorted == ERROR)
    other_rows = np.flatnonzero(to_sorted != ERROR)
    e_cls = pa.array(sev.cls[sord][err_rows].astype(np.int64))
    e_att = _num(sev.attempt[sord][err_rows])
    with_class = pa.array(rng.random(err_rows.size) < _ERROR_METADATA_SHARE)
    step_meta = _strings(["{}", "{}", "{}", "{}", '{"reason": "task_cancelled"}', '{"resolved_by": "ops_oncall"}'])
    metadata = _scatter(
        sord.size,
        [
            (other_rows, step_meta.take(pa.array(to_sorted[other_rows]))),
            (
                err_rows,
                pc.if_else(
                    with_class,
                    _join('{"error_class": "', class_names.take(e_cls), '", "attempt": ', e_att, "}"),
                    _join('{"attempt": ', e_att, "}"),
                ),
            ),
        ],
    )
    s_ts = _ts(sev.time[sord])
    tables["tasker_workflow_step_transitions"] = _table(
        "tasker_workflow_step_transitions",
        {
            "id": pa.array(np.arange(1, sord.size + 1, dtype=np.int64)),
            "workflow_step_id": pa.array(sev.entity[sord] + 1),
            "from_state": state_names.take(pa.array(s_from[sord])),
            "to_state": state_names.take(pa.array(to_sorted)),
            "metadata": metadata,
            "sort_key": pa.array(s_sort[sord]),
            "most_recent": pa.array(s_recent[sord]),
            "created_at": s_ts,
            "updated_at": s_ts,
        },
    )
    bar.update(1)
    bar.close()
    return {name: tables[name] for name in TABLE_NAMES}


# --------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


# The tables whose rows arrive over time (the others describe task and step types).
_ACTIVITY_TABLES = (
    "tasker_tasks",
    "tasker_workflow_steps",
    "tasker_workflow_step_edges",
    "tasker_task_transitions",
    "tasker_workflow_step_transitions",
)
_TRANSITION_TABLES = ("tasker_task_transitions", "tasker_workflow_step_transitions")


def split_at(
    tables: dict[str, pa.Table],
    cutoff: datetime,
    *,
    late_share: float = 0.05,
    late_window_hours: tuple[float, float] = (6.0, 2.0),
    seed: int = 0,
) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    """A workload as the source held it at `cutoff`, and the rows that arrive after it.

    Arrivals are every row created after `cutoff` (new tasks, steps, edges and the later
    transitions of tasks already running) plus late ones: `late_share` of the transitions
    created between `late_window_hours` (6 and 2 by default) hours before `cutoff`, held
    back and given ids beyond every existing one, as rows committed late are. Appending
    the arrivals to the first part gives the whole workload, late rows re-numbered.
    """
    rng = np.random.default_rng(seed)
    cutoff_ms, (early_h, late_h) = _to_ms(cutoff), late_window_hours
    before, arrivals = {}, {}
    for name, table in tables.items():
        if name not in _ACTIVITY_TABLES:
            before[name] = table
            arrivals[name] = table.slice(0, 0)
            continue
        created = table.column("created_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
        later = created > cutoff_ms
        late = np.zeros(len(created), dtype=bool)
        if name in _TRANSITION_TABLES and late_share > 0:
            window = (created > cutoff_ms - early_h * _MS_PER_HOUR) & (created <= cutoff_ms - late_h * _MS_PER_HOUR)
            late = window & (rng.random(len(created)) < late_share)
        before[name] = table.filter(pa.array(~later & ~late))
        held = table.filter(pa.array(late))
        if held.num_rows:
            first = int(pc.max(table.column(0)).as_py()) + 1
            ids = pa.array(np.arange(first, first + held.num_rows, dtype=np.int64))
            held = held.set_column(0, table.schema.field(0), ids.cast(table.schema.field(0).type))
        arrivals[name] = pa.concat_tables([table.filter(pa.array(later)), held])
    return before, arrivals


def _check_schema(schema: str) -> None:
    if not _IDENT.match(schema):
        raise ValueError(f"invalid schema name {schema!r} (letters, digits and _ only)")


def write_duckdb(
    tables: dict[str, pa.Table], path: str, schema: str = "public", progress: bool = False, append: bool = False
) -> None:
    """Replace the nine tables in `schema` of the DuckDB file at `path` (one transaction);
    with `append`, add the rows to the tables there instead."""
    import duckdb
    from tqdm import tqdm

    _check_schema(schema)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    con = duckdb.connect(path)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for name in tqdm(TABLE_NAMES, desc="duckdb", unit="table", file=sys.stderr, disable=not progress, leave=False):
            table = tables[name]
            select = ", ".join(f'CAST("{c}" AS {_col_types(t)[1]}) AS "{c}"' for c, t in COLUMNS[name])
            con.register("_tasker_source", table)
            if append:
                con.execute(f'INSERT INTO "{schema}"."{name}" SELECT {select} FROM _tasker_source')
            else:
                con.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
                con.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT {select} FROM _tasker_source')
            con.unregister("_tasker_source")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def write_postgres(
    tables: dict[str, pa.Table], dsn: str, schema: str = "public", progress: bool = False, append: bool = False
) -> None:
    """Replace the nine tables in `schema` of the Postgres database at `dsn` (one transaction,
    COPY in CSV). Dependent views are dropped with the tables (CASCADE). With `append`, add
    the rows to the tables there instead."""
    import psycopg
    import pyarrow.csv as pacsv
    from tqdm import tqdm

    _check_schema(schema)
    write_options = pacsv.WriteOptions(include_header=False)
    with psycopg.connect(dsn, connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for name in reversed(TABLE_NAMES if not append else ()):
            cur.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE')
        bar = tqdm(
            total=sum(t.num_rows for t in tables.values()),
            desc="postgres",
            unit="row",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            leave=False,
        )
        for name in TABLE_NAMES:
            cols = COLUMNS[name]
            ddl = ", ".join(f'"{c}" {_col_types(t)[0]}' for c, t in cols)
            if not append:
                cur.execute(f'CREATE TABLE "{schema}"."{name}" ({ddl})')
            names = ", ".join(f'"{c}"' for c, _ in cols)
            with cur.copy(f'COPY "{schema}"."{name}" ({names}) FROM STDIN (FORMAT csv)') as copy:
                for batch in tables[name].to_batches(max_chunksize=100_000):
                    buf = io.BytesIO()
                    pacsv.write_csv(batch, buf, write_options=write_options)
                    copy.write(buf.getbuffer())
                    bar.update(batch.num_rows)
            if append:
                continue
            cur.execute(f'ALTER TABLE "{schema}"."{name}" ADD PRIMARY KEY ("{cols[0][0]}")')
            for i, index_cols in enumerate(_PG_INDEXES.get(name, [])):
                quoted = ", ".join(f'"{c.strip()}"' for c in index_cols.split(","))
                cur.execute(f'CREATE INDEX "{name}_ix{i}" ON "{schema}"."{name}" ({quoted})')
        bar.close()
        conn.commit()
        for name in TABLE_NAMES:
            cur.execute(f'ANALYZE "{schema}"."{name}"')
        conn.commit()


def write_parquet(tables: dict[str, pa.Table], folder: str, progress: bool = False) -> None:
    """Write the nine tables as Parquet, one folder per table (`<folder>/<table>/`), the
    layout a Spark (or any lakehouse) table location has. Each table's folder is replaced
    whole: the new one is written beside it and renamed into place."""
    import shutil

    import pyarrow.parquet as pq
    from tqdm import tqdm

    root = os.path.abspath(folder)
    os.makedirs(root, exist_ok=True)
    for name in tqdm(TABLE_NAMES, desc="parquet", unit="table", file=sys.stderr, disable=not progress, leave=False):
        final = os.path.join(root, name)
        staged = os.path.join(root, f".{name}.new-{os.getpid()}")
        retired = os.path.join(root, f".{name}.old-{os.getpid()}")
        shutil.rmtree(staged, ignore_errors=True)
        os.makedirs(staged)
        pq.write_table(tables[name], os.path.join(staged, "part-00000.parquet"), row_group_size=1_000_000)
        if os.path.exists(final):
            os.replace(final, retired)
        os.replace(staged, final)
        shutil.rmtree(retired, ignore_errors=True)


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------

DEFAULT_DUCKDB_PATH = str(default_source_duckdb())


class _UsageError(Exception):
    pass


def parse_as_of(value: str | None) -> datetime:
    """Naive UTC datetime truncated to the millisecond (now when value is None)."""
    if value is None:
        ts = datetime.now(UTC).replace(tzinfo=None)
    else:
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _UsageError(f"--as-of: not an ISO timestamp: {value!r}") from None
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def _parse_options(args: argparse.Namespace) -> dict:
    def integer(name: str, value, minimum: int) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise _UsageError(f"--{name}: not an integer: {value!r}") from None
        if number < minimum:
            raise _UsageError(f"--{name} must be >= {minimum}, got {number}")
        return number

    try:
        hours = float(str(args.history_hours).strip())
    except ValueError:
        raise _UsageError(f"--history-hours: not a number: {args.history_hours!r}") from None
    if not (math.isfinite(hours) and hours * _MS_PER_HOUR >= 1):
        raise _UsageError(f"--history-hours must be positive, got {args.history_hours!r}")
    if sum(1 for target in (args.duckdb, args.postgres, getattr(args, "parquet", None)) if target) > 1:
        raise _UsageError("--duckdb, --postgres and --parquet are mutually exclusive")
    if not _IDENT.match(args.schema or ""):
        raise _UsageError(f"--schema: invalid name {args.schema!r} (letters, digits and _ only)")
    return {
        "tasks": integer("tasks", args.tasks, 0),
        "seed": integer("seed", args.seed, 0),
        "as_of": parse_as_of(args.as_of),
        "history_hours": hours,
    }


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def run(args: argparse.Namespace) -> int:
    """Run `tasker-analytics generate`; returns the exit code (2 on bad input or target)."""
    import duckdb
    import psycopg

    prog = "tasker-analytics generate"
    progress = not getattr(args, "no_progress", False)
    try:
        opts = _parse_options(args)
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    parquet = getattr(args, "parquet", None)
    target = args.postgres or parquet or args.duckdb or DEFAULT_DUCKDB_PATH
    # Reach the target before spending minutes on a large workload.
    try:
        if args.postgres:
            psycopg.connect(args.postgres, connect_timeout=10).close()
        elif parquet:
            os.makedirs(os.path.abspath(parquet), exist_ok=True)
        else:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            duckdb.connect(target).close()
    except (psycopg.Error, duckdb.Error, OSError) as exc:
        print(
            f"{prog}: error: cannot open {'PostgreSQL' if args.postgres else target}: {_one_line(exc)}", file=sys.stderr
        )
        return 2
    tables = generate_workload(progress=progress, **opts)
    try:
        if args.postgres:
            write_postgres(tables, args.postgres, args.schema, progress=progress)
        elif parquet:
            write_parquet(tables, parquet, progress=progress)
        else:
            write_duckdb(tables, target, args.schema, progress=progress)
    except (psycopg.Error, duckdb.Error, OSError) as exc:
        print(f"{prog}: error: writing failed: {_one_line(exc)}", file=sys.stderr)
        return 2
    where = "PostgreSQL" if args.postgres else target
    place = f"Parquet folders under {os.path.abspath(parquet)}" if parquet else f"{where} schema {args.schema}"
    print(
        f"generated {opts['tasks']} tasks ({tables['tasker_workflow_steps'].num_rows} steps, "
        f"{tables['tasker_workflow_step_transitions'].num_rows} step transitions) as of "
        f"{opts['as_of'].isoformat(timespec='milliseconds')} into {place}"
    )
    return 0
