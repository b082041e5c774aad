"""The cluster operator's area: the utilization dashboard, the supply network and its
risk, and what-if outages (docs/operator.md)."""
