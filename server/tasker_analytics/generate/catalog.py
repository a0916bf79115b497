"""The simulated installation as data: error classes and where they are raised from, and
the catalog of task types, their steps, dependencies, durations and failure rates (the
fixed code seeds/tasker_analytics__step_timeouts.csv refers to)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

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
    the content of seeds/tasker_analytics__step_timeouts.csv. Versions of one task share a timeout."""
    rows: dict[tuple[str, str, str], int] = {}
    for td in CATALOG:
        for s in td.steps:
            key = (td.namespace, td.name, s.name)
            assert rows.setdefault(key, s.timeout_s) == s.timeout_s, key
    return [(*key, t) for key, t in rows.items()]
