"""What-if outages: a factory or a region offline for some weeks, re-planned by the
engine's `rematch` without touching real data unless applied."""
