"""The tasker-analytics command and its monitoring check."""
