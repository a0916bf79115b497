"""What a body holds and how it is computed from the marts: the response schemas and the Analytics service."""
