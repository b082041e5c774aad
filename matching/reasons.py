"""Reason codes of an explanation (`matching.explain`): why a job went to a factory, or
did not. The one list of them, for the engine and for callers that show or store them.
"""

from __future__ import annotations

CHOSEN = "chosen"

# The option can never be used, whatever the other jobs do (found when the problem is
# compiled).
CREDIT_BELOW_MINIMUM = "credit_below_minimum"
# Production would have to end before the release, or by a period before which the
# factory has no room for the job while it has some later in the job's window.
SHIPPING_TOO_SLOW = "shipping_too_slow"
NO_CAPACITY = "no_capacity_in_window"  # the factory never had room for the job

# The option was usable, but not in this plan.
NO_FREE_CAPACITY = "no_free_capacity_in_window"  # room taken by other jobs of the plan
MORE_EXPENSIVE = "more_expensive"
NOT_NEEDED = "not_needed"  # the job was fully placed elsewhere at no greater cost
NOT_USED = "not_used"  # it had room and was no worse, yet a non-optimal search left it

# Given by callers that apply a plan, not by the engine.
NOT_HELD = "not_held"  # the plan chose the factory, but its hours were gone by the hold
UNEXPLAINED = "unexplained"  # the stored problem or plan cannot say

REASONS = (
    CHOSEN,
    CREDIT_BELOW_MINIMUM,
    SHIPPING_TOO_SLOW,
    NO_CAPACITY,
    NO_FREE_CAPACITY,
    MORE_EXPENSIVE,
    NOT_NEEDED,
    NOT_USED,
    NOT_HELD,
    UNEXPLAINED,
)
