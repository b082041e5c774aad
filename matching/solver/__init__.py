"""`solve`: a constructive start (greedy, or the LP solution rounded when the time limit
affords the LP), CP-SAT per independent group of jobs, then large-neighbourhood search
within the time limit; the plan's bound comes from CP-SAT proofs and the LP.

Jobs that share no capacity (different resources, disjoint factories) never interact,
so each group is solved on its own: small groups are solved outright, and the time they
leave goes to the big ones. A group CP-SAT cannot close in its share is improved by LNS:
free the jobs of a few related factories (plus unplaced jobs that could go there), fix
everything else, and re-optimise that neighbourhood lexicographically. Moves never make
the incumbent worse, so the search can stop at any moment with a feasible plan.

The parts: `driver` (entry points and the constructive start), `search` (the search's
phases), `groups`, `incumbent` (the shared best allocation), `clock`, `lns` and
`neighbourhoods` (moves), `chain_turns` (ejection chains within the search), `progress`
and `proof` (optimality and the cost bound).
"""

from matching.solver.driver import DEFAULT_TIME_LIMIT_S, DEFAULT_WORKERS, allocate, solve
from matching.solver.progress import ProgressCallback
from matching.solver.search import Search

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "DEFAULT_WORKERS",
    "ProgressCallback",
    "Search",
    "allocate",
    "solve",
]
