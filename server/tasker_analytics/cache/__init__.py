"""The response cache: in-memory and Redis stores with single-flight misses."""
