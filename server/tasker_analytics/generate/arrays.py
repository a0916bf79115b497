"""Arrow column builders for the generated Tasker tables: timestamps, strings and digests
from NumPy arrays, and a table cast to its source schema."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasker_analytics.generate.schema import arrow_schema


def timestamps(ms: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    values = ms.astype(np.int64).view("datetime64[ms]")
    return pa.array(values, mask=None if valid is None else ~valid)


def strings(values) -> pa.Array:
    return pa.array(list(values), pa.string())


def numbers_as_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def joined(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def scattered(size: int, pieces: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """A string array of `size` rows holding pieces[i][1] at rows pieces[i][0], null elsewhere."""
    pos = np.full(size, -1, np.int64)
    offset = 0
    for rows, _values in pieces:
        pos[rows] = offset + np.arange(rows.size)
        offset += rows.size
    values = pa.concat_arrays([v for _, v in pieces]) if pieces else pa.array([], pa.string())
    return values.take(pa.array(pos, mask=pos < 0))


def hex_digests(rng: np.random.Generator, n: int) -> pa.Array:
    raw = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    out = np.empty((n, 64), np.uint8)
    out[:, 0::2] = digits[raw >> 4]
    out[:, 1::2] = digits[raw & 15]
    offsets = np.arange(0, 64 * (n + 1), 64, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out.tobytes())])


def source_table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = arrow_schema(name)
    assert list(columns) == schema.names, (name, list(columns))
    return pa.table([columns[f.name].cast(f.type) for f in schema], schema=schema)
