"""A problem too big for one process, solved in parts: `fan_out` cuts it into
independent groups (and big groups into regions), each part is solved by the engine's
`solve` on its own (a process pool here, Celery tasks in the marketplace), and
`finish` merges the plans, reconciles the regions' boundaries and checks the whole.

`split` finds the parts, `merge` puts plans together and reconciles boundaries,
`check` is the feasibility check of the merged plan, `pool` runs the parts.
"""

from matching.fanout.check import infeasibilities
from matching.fanout.merge import merged_status, plan_of, reconcile, to_free
from matching.fanout.pool import (
    FannedPlan,
    MergedPlanInfeasible,
    PartResult,
    finish,
    part_arguments,
    part_time_limit,
    peak_rss_kb,
    progress_of,
    solve_fanned,
    solve_part,
)
from matching.fanout.split import DEFAULT_MAX_PART_TERMS, Cut, FanOut, Part, fan_out, sub_problem

__all__ = [
    "DEFAULT_MAX_PART_TERMS",
    "Cut",
    "FanOut",
    "FannedPlan",
    "MergedPlanInfeasible",
    "Part",
    "PartResult",
    "fan_out",
    "finish",
    "infeasibilities",
    "merged_status",
    "part_arguments",
    "part_time_limit",
    "peak_rss_kb",
    "plan_of",
    "progress_of",
    "reconcile",
    "solve_fanned",
    "solve_part",
    "sub_problem",
    "to_free",
]
