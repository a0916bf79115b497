"""Authentication: JWTs and hashed service tokens."""
