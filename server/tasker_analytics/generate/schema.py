"""The nine Tasker source tables: their columns and types on PostgreSQL, DuckDB and Arrow."""

from __future__ import annotations

import pyarrow as pa

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
