"""The utilization dashboard: capacity, fill, runs and the factories needing attention."""
