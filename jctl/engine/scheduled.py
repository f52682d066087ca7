"""Scheduled runs (schedule:v1, dsl.md 5.4): when the simulated clock reaches a binding's next run, a new
instance of the scheduling journey starts at the binding's `start` state with the binding's evolving context
(the final context of the previous run once it has finished), until `maxRuns` runs have started."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jctl.clock import format_rfc3339, later, parse_duration
from jctl.store.models import DueWork, Instance, NewDueWork, NewEvent, UnknownInstance, new_instance_id

if TYPE_CHECKING:
    from jctl.store.db import Store
    from jctl.store.models import ScheduleBinding


@dataclass
class ScheduledRun:
    """A scheduled run's instance, created and due to run at its start state: the runner drives it next."""

    instance: Instance
    binding: ScheduleBinding
    number: int

    def started(self, after: Instance) -> str:
        """What the tick prints once the run was driven to `after`."""
        where = after.current_state if after.phase == "RUNNING" else after.phase
        return (f"started scheduled run {self.number}/{self.binding.max_runs} of {self.binding.journey_name} "
                f"({self.binding.id}) {self.instance.id[:8]} -> {where}")


def create_scheduled_run(store: Store, work: DueWork) -> ScheduledRun | str:
    """Create the instance of the run `work` (a `schedule-run` due item keyed by binding id) stands for, and its
    binding's next run, in one commit; or say why there is nothing to run."""
    try:
        binding = store.schedule(work.instance_id)
        creator = store.get_instance(binding.creator)
    except UnknownInstance:
        store.discard_due_work([work.id])
        return f"discarded schedule run of a missing binding {work.instance_id}"
    context = binding.last_context
    if binding.last_run:
        previous = store.get_instance(binding.last_run)
        if previous.phase != "RUNNING":
            context = previous.context  # the evolving lastContext: the previous run's final context
    now = store.now()
    run_number = binding.runs_executed + 1
    cursor = {"specPath": creator.cursor.get("specPath"), "paused": None, "mockCounters": {},
              "startedAt": format_rfc3339(now), "platformConfig": creator.cursor.get("platformConfig") or {},
              "schedule": {"binding": binding.id, "run": run_number}}
    instance = Instance(id=new_instance_id(), journey_name=creator.journey_name, kind=creator.kind,
                        definition=creator.definition, phase="RUNNING", current_state=binding.start_state,
                        cursor=cursor, context=copy.deepcopy(context), tags=list(creator.tags), mocks=creator.mocks)
    event = NewEvent("journey.started", binding.start_state,
                     {"input": context, "schedule": binding.id, "run": run_number, "detached": False})
    next_run = later(work.due_at, parse_duration(binding.interval))
    created = store.fire_schedule(work.id, binding, instance, [event],
                                  [NewDueWork("run", now, binding.start_state)], next_run)
    if created is None:
        return f"discarded stale schedule run of binding {binding.id}"
    return ScheduledRun(created, binding, run_number)
