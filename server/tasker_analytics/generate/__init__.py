"""The synthetic Tasker workload generator and its command-line options."""
