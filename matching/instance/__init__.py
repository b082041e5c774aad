"""The problem compiled for solving: feasible (job, factory, period) choices in integers.

`model` holds the integer instance and turns its allocations into plans, `compile`
builds it from a problem, `scaling` picks the integer units.
"""

from matching.instance.compile import SPLIT_UNITS, compile_problem
from matching.instance.model import (
    Allocation,
    BucketKey,
    Choice,
    InfeasibleAllocation,
    Instance,
    JobInfo,
    Placement,
    Rejection,
    with_placements,
)

__all__ = [
    "SPLIT_UNITS",
    "Allocation",
    "BucketKey",
    "Choice",
    "InfeasibleAllocation",
    "Instance",
    "JobInfo",
    "Placement",
    "Rejection",
    "compile_problem",
    "with_placements",
]
