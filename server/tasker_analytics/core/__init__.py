"""What a body holds and how it is computed from the marts: the query (scope, period, limit),
the response schemas, the Analytics service and the recommendations."""
