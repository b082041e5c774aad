"""Turns of the ejection chain search (`matching.chains`) within the search: bursts of
it on a group, and its better allocations merged into the incumbent."""

from __future__ import annotations

from matching.chains import ChainSearch
from matching.solver.clock import CHAIN_UNITS_PER_SECOND, SearchClock
from matching.solver.groups import Group
from matching.solver.incumbent import Incumbent
from matching.solver.progress import Progress

# After a first burst, chains take turns with LNS moves, getting CHAIN_SHARE of the
# search threads' time; while the group's fill is below the LP's, less (chains never
# place more work, and the cost ratio at the plan's fill falls fastest with its fill).
CHAIN_BURST_S = 0.5
CHAIN_SHARE = 0.5
CHAIN_SHARE_FILL_OPEN = 0.2
CHAIN_SLICE_S = 0.05  # work after which a chain search looks at the clock again


class ChainTurns:
    def __init__(self, incumbent: Incumbent, clock: SearchClock, progress: Progress):
        self.incumbent = incumbent
        self.clock = clock
        self.progress = progress

    def due(self, group: Group) -> bool:
        """Whether the group's chains take the next turn: they exist, are not running,
        may find jobs to move since they last found too few, and had less than their
        share of time. Called with the incumbent's lock held."""
        if group.chains is None or group.chains_busy or group.chains_idle_at == group.version:
            return False
        share = CHAIN_SHARE_FILL_OPEN if self.fill_open(group) else CHAIN_SHARE
        return group.chain_seconds <= share / (1 - share) * group.lns_seconds

    def fill_open(self, group: Group) -> bool:
        """Whether the group's fill is below the LP's (when the LP was solved)."""
        if group.lp_fill is None:
            return False
        if group.fill_open_at != group.version:
            fill, _ = self.incumbent.instance.score(self.incumbent.allocation, group.jobs)
            group.fill_open = fill < group.lp_fill * (1 - 1e-9) - 1e-6
            group.fill_open_at = group.version
        return group.fill_open

    def burst(self, group: Group, seconds: float) -> None:
        """Ejection chains on the group for about `seconds` of search time, starting from
        the incumbent. Better allocations are merged as they are found; when another
        thread changes the group, the search continues from the new incumbent."""
        chains = group.chains
        if chains is None or seconds <= 0:
            return
        incumbent, clock = self.incumbent, self.clock
        with incumbent.lock:
            if group.chains_busy:
                return
            group.chains_busy = True
            version = group.version
            loaded = chains.load(incumbent.allocation, incumbent.used)
        started = clock.elapsed()
        try:
            while loaded and clock.running() and clock.elapsed() - started < seconds:
                work = chains.step(CHAIN_SLICE_S * CHAIN_UNITS_PER_SECOND)
                with incumbent.lock:
                    clock.charge_chain_work(work)
                    if chains.improved and self._merge(chains):
                        chains.rebase()
                        version = group.version
                        self.progress.report(incumbent.allocation)
                    if group.version != version:
                        version = group.version
                        loaded = chains.load(incumbent.allocation, incumbent.used)
        finally:
            with incumbent.lock:
                if not loaded:
                    group.chains_idle_at = version
                group.chains_busy = False
                group.chain_seconds += clock.elapsed() - started

    def _merge(self, chains: ChainSearch) -> bool:
        """Accept the chains' best allocation if it is still valid against the incumbent:
        its jobs unchanged and not held by a concurrent move, capacity respected, and
        lexicographically better. Called with the lock held."""
        incumbent = self.incumbent
        instance = incumbent.instance
        placements = chains.placements()
        if not placements or any(j in incumbent.reserved_jobs for j in placements):
            return False
        change: dict[int, int] = {}
        for j, placement in placements.items():
            if incumbent.allocation[j] != chains.base_placement(j):
                return False
            for b, units in instance.bucket_use(j, incumbent.allocation[j]):
                change[b] = change.get(b, 0) - units
            for b, units in instance.bucket_use(j, placement):
                change[b] = change.get(b, 0) + units
        for b, delta in change.items():
            if delta and instance.bucket_keys[b][0] in incumbent.reserved_factories:
                return False
            if incumbent.used[b] + delta > instance.bucket_capacity[b]:
                return False
        jobs = list(placements)
        if incumbent.level_values(jobs, placements) <= incumbent.level_values(jobs):
            return False
        incumbent.accept(placements)
        return True
