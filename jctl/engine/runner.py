"""The durable local runner: loads an instance, holds its lease, runs the interpreter and commits each
transition atomically with its history event; due work (run, timer, step-timeout, deadline) drives the rest."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

from jctl.clock import from_epoch_ms
from jctl.engine import envelopes
from jctl.engine.errors import InstanceBusy, KeyReused, NotCancellable, UnknownInstance
from jctl.engine.interpreter import DEFAULT_MAX_INLINE_TIMERS, DEFAULT_MAX_TRANSITIONS, Interpreter
from jctl.engine.seams import Seams
from jctl.engine.start import plan_start
from jctl.engine.transitions import Snapshot, StateError, Transition
from jctl.limits import WARN_FRACTION, Limits, json_size, over_message, warning_message
from jctl.store.models import (
    START_KEY_PREFIX,
    AmbiguousInstance,
    ClockError,
    ConflictError,
    DamagedInstance,
    DrivePosition,
    DueWork,
    Instance,
    KeyRecord,
    NewDueWork,
    NewEvent,
)
from jctl.store.models import UnknownInstance as StoreUnknownInstance
from jctl.tasks.http import LazyClient

if TYPE_CHECKING:
    import httpx

    from jctl.secrets import Secrets
    from jctl.store.db import Store
    from jctl.store.models import PreparedCreate, StepWrite
    from jctl.tasks.outbound_auth import OutboundAuth, TokenCache
    from jctl.tasks.request import InboundRequest

Drive = Callable[[Interpreter, Snapshot], Iterator[Transition]]
P = ParamSpec("P")


def _shown(method: Callable[Concatenate[Runner, P], dict[str, Any]]
           ) -> Callable[Concatenate[Runner, P], dict[str, Any]]:
    """An answer of the runner (to every driver: the CLI, `jctl serve`) with the local secret values blanked out;
    schema-marked fields are masked by the envelopes themselves."""
    def answer(runner: Runner, /, *args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
        shown: dict[str, Any] = runner.secrets.scrubbed(method(runner, *args, **kwargs))
        return shown

    answer.__doc__ = method.__doc__
    return answer
DUE_VERBS = {"run": "ran", "timer": "fired timer", "step-timeout": "timed out step", "deadline": "deadline reached",
             "retry": "retried task"}
DEFAULT_LIMITS = {"maxTransitions": DEFAULT_MAX_TRANSITIONS, "maxAutoAdvanceSteps": 10_000,
                  "maxDueWorkPerTick": 100_000, "maxInlineTimers": DEFAULT_MAX_INLINE_TIMERS}
DUE_BATCH = 100  # due items read per query
BATCH_LIMIT = 64  # pure transitions committed together at most
LEASE_PATIENCE_S = 30.0
CANCEL_PATIENCE_S = 10.0
FAR_FUTURE = datetime.max.replace(tzinfo=timezone.utc)  # "any time": the upper bound of a due-work query


class Runner:
    """The commands that change instances (start, signal, cancel, tick, clock moves), each under the instance's
    lease and committing every transition on its own."""

    def __init__(self, store: Store, *, http_transport: httpx.BaseTransport | None = None,
                 expr_timeout_s: float = 5.0, uuid_seed: str | None = None, limits: dict[str, Any] | None = None,
                 platform_config: dict[str, Any] | None = None, out: Callable[[str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, data_limits: Limits | None = None,
                 warn: Callable[[str], None] | None = None, secrets: Secrets | None = None,
                 plugin_config: tuple[dict[str, Any], Path | None] = ({}, None)):
        from jctl.secrets import Secrets
        from jctl.store.db import new_lease_owner
        from jctl.tasks.outbound_auth import TokenCache

        self.store = store
        self.http_transport = http_transport
        self.expr_timeout_s = expr_timeout_s
        self.uuid_seed = uuid_seed
        self.limits = limits or {}  # overrides of DEFAULT_LIMITS
        self.platform_config = platform_config or {}
        self.out = out
        # asked between transitions (the worker's Ctrl-C): work left over stays due, so the next tick resumes it
        self.should_stop = should_stop or (lambda: False)
        self.owner = new_lease_owner()
        self._shared_client: LazyClient | None = None
        self._mock_client: _MockClient | None = None  # one httpx client for every mocked drive, bound to its rules
        self.data_limits = data_limits or Limits.load()  # every driver gets the same bounds on instance data
        self.warn = warn or (lambda line: None)
        self.secrets = secrets or Secrets()
        self.token_cache = TokenCache()  # OAuth2 access tokens, reused across the instances this runner drives
        self.plugin_config = plugin_config
        self.request: InboundRequest | None = None  # the inbound request of the start/signal being driven
        self._transition_now: datetime | None = None  # the clock as the transition being worked out reads it

    def _limit(self, name: str) -> int:
        return int(self.limits.get(name, DEFAULT_LIMITS[name]))

    # -- commands -------------------------------------------------------------------------------------------
    @_shown
    def start(self, definition_path: Path, input: dict[str, Any], *, mocks: dict[str, Any] | None = None,
              detach: bool = False, auto_advance: bool = False, idempotency_key: str | None = None,
              request_hash: str | None = None, request: InboundRequest | None = None) -> dict[str, Any]:
        """Create an instance of the spec at `definition_path` and run it until it ends or pauses (unless
        `detach`); with `auto_advance`, skip the clock over its timers as well. A repeated idempotency key
        replays the first start's answer (where it first paused) instead of starting another instance; with
        `request_hash` (the caller's fingerprint of its request), a key that comes back with another hash is
        refused (KeyReused)."""
        if idempotency_key and (replay := self._start_replay(idempotency_key, request_hash)) is not None:
            return replay
        warning = self._edge_warning(input, "the start input")
        now = self.store.now()
        plan = plan_start(Path(definition_path), input, mocks=mocks, supplied_config=self.platform_config,
                          now=now, detach=detach, headers=request.headers if request else None)
        if self.uuid_seed is not None:
            plan.instance.cursor["seed"] = self.uuid_seed  # later triggers, in other processes, draw jitter from it
        if warning:
            plan.events.append(warning)
        if not detach and not idempotency_key:  # stored (holding its lease) by its first drive's first commit,
            # made before a step that may make an effect runs: a start that computes up to its pause is one commit
            create = self.store.prepare_create(plan.instance, plan.events, plan.due, now)
            return self._drive_new(create.instance.id, request, auto_advance, create)
        key = None
        if idempotency_key:
            key = KeyRecord(idempotency_key, envelopes.start_response(plan.instance) if detach else None)
        try:
            created = self.store.create_instance(plan.instance, plan.events, plan.due, start_key=key,
                                                 request_hash=request_hash, lease_owner=None if detach else self.owner)
        except ConflictError:
            if idempotency_key and (replay := self._start_replay(idempotency_key, request_hash)) is not None:
                return replay  # another process started with this key between our check and our insert
            raise
        if detach:
            return envelopes.start_response(created)
        return self._drive_new(created.id, request, auto_advance)

    def _drive_new(self, instance_id: str, request: InboundRequest | None, auto_advance: bool,
                   create: PreparedCreate | None = None) -> dict[str, Any]:
        """Run a new instance, leased by this runner (`create`: not stored yet), to its first pause or end."""
        self.request = request  # only this drive sees the caller's request; it is never stored
        try:
            instance, _ = self._drive(instance_id, lambda interp, snap: interp.run(snap), run_pending=True,
                                      leased=True, create=create)
        finally:
            self.request = None
        if auto_advance:
            instance = self._auto_advance(instance.id)
        return envelopes.envelope(instance)

    @_shown
    def signal(self, id_or_prefix: str, payload: Any, *, step: str | None = None,
               idempotency_key: str | None = None, request: InboundRequest | None = None) -> dict[str, Any]:
        """Deliver a payload to the active wait/webhook step and continue; a repeated idempotency key replays
        the first answer."""
        instance = self._get(id_or_prefix)
        warning = self._edge_warning(payload, "the payload")
        if not idempotency_key:
            return self._signal(instance, payload, step, None, request, warning)
        # Hold the lease across check and delivery, so a retry racing the first delivery waits for it and then
        # replays its answer instead of finding the step already gone.
        self._wait_for_lease(instance.id)
        try:
            replay = self._answer_of(instance.id, idempotency_key)
            if replay is not None:
                return replay
            return self._signal(self.store.get_instance(instance.id), payload, step, idempotency_key, request,
                                warning)
        finally:
            self.store.release_lease(instance.id, self.owner)

    def _edge_warning(self, value: Any, what: str) -> NewEvent | None:
        """Refuse a start input or payload over the input limit; warn (and return the history event) when it is
        over a quarter of it."""
        size = self.data_limits.check_edge(value, what)
        if size * WARN_FRACTION <= self.data_limits.input:
            return None
        self.warn(warning_message(what, size, self.data_limits.input, "input"))
        return NewEvent("limit.warning", None, {"limit": "input", "size": size, "max": self.data_limits.input})

    def _start_replay(self, key: str, request_hash: str | None) -> dict[str, Any] | None:
        started = self.store.started_by_key(key)
        if started is None:
            return None
        if request_hash and started.request_hash and request_hash != started.request_hash:
            raise KeyReused(f"idempotency key {key!r} was first used with a different request body",
                            hint="use a new key for a new request")
        instance_id = started.instance_id
        self._wait_for_lease(instance_id)
        try:
            return self._answer_of(instance_id, START_KEY_PREFIX + key)
        finally:
            self.store.release_lease(instance_id, self.owner)

    def _answer_of(self, instance_id: str, key: str) -> dict[str, Any] | None:
        """The answer recorded for `key` (under the caller's lease); when the process that used the key died
        mid-drive, the drive is finished first, so the answer is the one the first call would have given."""
        record = self.store.idempotency_record(instance_id, key)
        if record is None or record.response is not None:
            return record.response if record else None
        self._drive(instance_id, lambda interp, snap: interp.run(snap), run_pending=True)
        self._wait_for_lease(instance_id)  # _drive released it; the caller's `finally` releases it again
        record = self.store.idempotency_record(instance_id, key)
        if record is None or record.response is None:
            raise InstanceBusy(f"the first call with idempotency key {key!r} is still running; try again")
        return record.response

    def _signal(self, instance: Instance, payload: Any, step: str | None, idempotency_key: str | None,
                request: InboundRequest | None = None, warning: NewEvent | None = None) -> dict[str, Any]:
        interp = self._interpreter(instance, self._http_client(instance, {}))  # only checks: makes no call
        target = interp.check_signal(snapshot_of(instance), payload, step)  # raises before anything changes
        project_var = ((target.state.get(target.kind) or {}).get("response") or {}).get("outputVar")
        self.request = request
        try:
            instance, _ = self._drive(instance.id, lambda i, s: _noted(i.signal(s, payload, step), warning),
                                      idempotency_key=idempotency_key, project_var=project_var, read=instance,
                                      pure_trigger=target.branch is None)  # a branch's steps run as it is taken
        finally:
            self.request = None
        return envelopes.envelope(instance, project_var)

    def _wait_for_lease(self, instance_id: str, patience_s: float = LEASE_PATIENCE_S) -> None:
        import time

        give_up = time.monotonic() + patience_s
        while not self.store.acquire_lease(instance_id, self.owner):
            if time.monotonic() > give_up:
                raise InstanceBusy(f"instance {instance_id} is being advanced by another jctl process; try again")
            time.sleep(0.02)

    @_shown
    def status(self, id_or_prefix: str) -> dict[str, Any]:
        return envelopes.envelope(self._get(id_or_prefix))

    @_shown
    def cancel(self, id_or_prefix: str) -> dict[str, Any]:
        instance = self._get(id_or_prefix)
        if instance.phase != "RUNNING":
            return envelopes.journey_outcome(instance)  # cancelling a finished journey changes nothing
        if not envelopes.cancellable(instance):
            raise NotCancellable(f"journey {instance.journey_name} declares spec.lifecycle.cancellable: false; "
                                 f"instance {instance.id} cannot be cancelled")
        self._wait_for_lease(instance.id, CANCEL_PATIENCE_S)  # a drive in progress usually ends within seconds
        instance, _ = self._drive(instance.id, _cancel_if_running, leased=True, read=instance)  # it ends the lease
        return envelopes.journey_outcome(instance)

    def tick(self, *, until_idle: bool = False, auto_advance: bool = False) -> list[str]:
        """Run what is due at the current clock; one line per due item run or discarded."""
        lines = self._run_due_now(until_idle=until_idle or auto_advance)
        if not auto_advance:
            return lines
        budget = self._limit("maxDueWorkPerTick")  # for the whole command: a zero-delay loop must end it
        for _ in range(self._limit("maxAutoAdvanceSteps")):
            upcoming = self.store.due_work(now=FAR_FUTURE, limit=1)
            if not upcoming or not self._skippable(upcoming[0]) or len(lines) >= budget:
                break
            lines += self._advance_to(max(upcoming[0].due_at, self.store.now()), limit=budget - len(lines))
        if len(lines) == budget:
            lines.append(self._stopped_line(len(lines)))
        return lines

    def _stopped_line(self, count: int, target: datetime | None = None) -> str:
        """What a bounded clock move did: how many items ran, where the clock stays, what it did not reach."""
        short = f", short of {target.isoformat()}" if target is not None and target > self.store.now() else ""
        return (f"stopped after {count} due items (the maxDueWorkPerTick bound): the clock stays at "
                f"{self.store.now().isoformat()}{short}; a journey probably loops on a zero-delay timer, "
                f"and the same command goes on from here")

    def _skippable(self, work: DueWork) -> bool:
        """Auto-advance skips idle time spent on timers, never the time a person has to answer a step."""
        if work.kind == "step-timeout":
            return False
        if work.kind == "deadline":
            return not envelopes.active_steps(self.store.get_instance(work.instance_id))
        return True

    def advance(self, delta: timedelta) -> list[str]:
        from jctl.clock import later

        try:
            target = later(self.store.now(), delta)
        except ValueError as exc:
            raise ClockError(str(exc)) from None
        return self._advance_to(target)

    def set_clock(self, to: datetime) -> list[str]:
        if to < self.store.now():
            self.store.set_clock(to)  # raises the store's ClockError with its message
        return self._advance_to(to)

    def catch_up(self, wall_time: datetime) -> list[str]:
        """One step of the real-time worker: move the clock up to wall time when it lags (running what falls
        due on the way), else run what is due now."""
        if wall_time > self.store.now():
            return self._advance_to(wall_time)
        return self.tick(until_idle=True)

    # -- due work -------------------------------------------------------------------------------------------
    def _advance_to(self, target: datetime, limit: int | None = None) -> list[str]:
        """Move the clock to `target`, running what falls due on the way; at most `limit` due items (default
        maxDueWorkPerTick), after which it stops, short of `target`, and says so."""
        limit = self._limit("maxDueWorkPerTick") if limit is None else limit
        lines: list[str] = []
        while not self.should_stop():
            due_at = self.store.next_due_at()
            if due_at is None or due_at > target:
                break
            if due_at > self.store.now():
                self.store.set_clock(due_at)
            ran = self._run_due_now(until_idle=True, budget=limit - len(lines))
            lines += ran
            if not ran:
                break  # only busy instances have work due; leave it for the next tick
            if len(lines) >= limit:
                lines.append(self._stopped_line(len(lines), target))
                return lines
        if target > self.store.now() and not self.should_stop():
            self.store.set_clock(target)
        return lines

    def _run_due_now(self, *, until_idle: bool, budget: int | None = None) -> list[str]:
        """Run work due at the current clock: one pass over what is due now, or (until_idle) also the work that
        running it makes due now, e.g. a PT0S timer. Capped so a zero-delay polling loop cannot spin forever."""
        lines: list[str] = []
        skipped: set[int] = set()  # leased by another runner: left for a later tick
        budget = self._limit("maxDueWorkPerTick") if budget is None else budget
        cutoff = self.store.now()
        while budget > 0:
            batch = [w for w in self.store.due_work(now=cutoff, limit=DUE_BATCH + len(skipped)) if w.id not in skipped]
            if not batch:
                break
            for work in batch[:budget]:
                if self.should_stop():
                    return lines
                budget -= 1
                line = self._run_due(work)
                if line is None:
                    skipped.add(work.id)
                    continue
                lines.append(line)
                if self.out:
                    self.out(line)
            if not until_idle and len(batch) < DUE_BATCH:
                break
        return lines

    def _run_due(self, work: DueWork) -> str | None:
        """Run one due item; None when its instance is leased by another runner (left for later)."""
        if work.kind == "schedule-run":  # keyed by schedule binding, not by instance
            from jctl.engine.scheduled import create_scheduled_run

            run = create_scheduled_run(self.store, work)
            if isinstance(run, str):
                return run
            after, _ = self._drive(run.instance.id, lambda interp, snap: interp.run(snap), run_pending=True)
            return run.started(after)
        try:
            instance = self.store.get_instance(work.instance_id)
        except StoreUnknownInstance:
            self.store.discard_due_work([work.id])
            return f"discarded {work.kind} of a missing instance {work.instance_id[:8]}"
        except DamagedInstance as exc:  # it cannot run; the others must
            self.store.discard_due_work([work.id])
            return f"discarded {work.kind} of a damaged instance: {exc}"
        if instance.phase != "RUNNING":
            self.store.discard_due_work([work.id])
            return f"discarded stale {work.kind} of finished instance {instance.id[:8]}"
        try:
            after, committed = self._drive(instance.id, _drive_for(work), run_pending=work.kind == "run",
                                           read=instance)
        except InstanceBusy:
            return None
        if not committed:
            # nothing committed: the work was stale (the instance moved on, or another process ran it first)
            self.store.discard_due_work([work.id])
            return f"discarded stale {work.kind} of {instance.journey_name} {instance.id[:8]}"
        where = after.current_state if after.phase == "RUNNING" else after.phase
        return f"{_due_label(work)} for {instance.journey_name} {instance.id[:8]} -> {where}"

    def _auto_advance(self, instance_id: str) -> Instance:
        """Skip the clock from due item to due item until the instance ends or waits for a person; at most
        maxAutoAdvanceSteps due items, so a journey looping on a zero-delay timer stops (still RUNNING)."""
        instance = self.store.get_instance(instance_id)
        budget = self._limit("maxAutoAdvanceSteps")
        while budget > 0:
            if instance.phase != "RUNNING" or envelopes.active_steps(instance):
                break
            due_at = self.store.next_due_at()
            if due_at is None:
                break
            ran = self._advance_to(max(due_at, self.store.now()), limit=budget)
            budget -= len(ran)
            if not ran:
                break  # only work leased by another process is due: leave it to that process
            instance = self.store.get_instance(instance_id)
        if budget <= 0 and self.out:
            self.out(f"stopped auto-advancing after {self._limit('maxAutoAdvanceSteps')} due items; "
                     f"the journey probably loops on a zero-delay timer (`jctl tick --auto-advance` goes on)")
        return instance

    # -- driving one instance -------------------------------------------------------------------------------
    def _drive(self, instance_id: str, drive: Drive, *, run_pending: bool = False,
               idempotency_key: str | None = None, project_var: str | None = None,
               leased: bool = False, read: Instance | None = None, create: PreparedCreate | None = None,
               pure_trigger: bool = False) -> tuple[Instance, int]:
        """Run `drive` on the instance under its lease (taken here unless `leased`), committing each transition;
        returns the instance as left and how many transitions were committed (0 when the trigger turned out
        stale). The lease ends with the halting transition's commit, or after the last one. `read`: the instance
        as the caller read it before the lease, driven as is when the store still holds that version. `create`: a
        new instance, inserted with the drive's first commit, which is made before any step that is not pure runs.
        `pure_trigger`: `drive` builds its first transition itself and without an effect (a signal for a step
        outside a branch); the lease is then taken by the drive's first commit, made before a step that is not pure
        runs (the commit's version check refuses a drive another process got ahead of)."""
        claim = not leased and pure_trigger
        if not leased and not claim and not self.store.acquire_lease(instance_id, self.owner):
            raise InstanceBusy(f"instance {instance_id} is being advanced by another jctl process; try again")
        counters: dict[str, int] = {}
        client: LazyClient | None = None
        batch: _Batch | None = None
        holds = create is None and not claim  # the lease: taken above, or by the caller
        self._transition_now = None
        try:
            if create is None:
                position = self.store.drive_position(instance_id, self.owner if claim else None)
                if not position.lease_free:
                    raise InstanceBusy(f"instance {instance_id} is being advanced by another jctl process; try again")
                self._transition_now = from_epoch_ms(position.now_ms)  # the first transition's clock
                instance = read if read is not None and position.version == read.version \
                    else self.store.get_instance(instance_id)
            else:
                instance = create.instance
                position = DrivePosition(0, len(create.events), 0, False)
                self._transition_now = instance.created_at
            counters.update(instance.cursor.get("mockCounters") or {})
            client = self._http_client(instance, counters)
            interp = self._interpreter(instance, client)
            committed = 0
            events = position.events
            batch = _Batch(instance, position.events, position.keys_pending)
            batch.create, batch.claim = create, claim
            batch.holds = holds
            snap = snapshot_of(instance)
            transitions = drive(interp, snap)
            first = True
            while True:
                if (batch.steps or batch.create is not None or batch.claim) and not (first and pure_trigger) \
                        and not interp.pure_next(snap):
                    # stored (and leased) before a step that may make an effect runs: a call retried after a crash
                    # carries what the steps before it computed (an unseeded uuid() among them), not a new value
                    self._flush(batch)
                first = False
                try:
                    transition = next(transitions, None)
                except Exception:
                    if batch.steps:  # the steps before stand (a lease or instance with no step is not kept)
                        with contextlib.suppress(Exception):  # the failure is the caller's
                            self._flush(batch)
                    raise
                if transition is None:
                    break
                snap = transition.snapshot
                transition = self._bounded(interp, batch.instance, transition, events)
                self._add(batch, transition, counters, run_pending, idempotency_key, project_var)
                events += len(transition.events)
                idempotency_key = None  # recorded with the drive's first transition (its `signal.received`)
                committed += 1
                stopping = not transition.halts and self.should_stop()
                if transition.halts or stopping or not transition.pure or transition.spawn \
                        or len(batch.steps) >= BATCH_LIMIT:
                    self._flush(batch)
                    self._transition_now = batch.instance.updated_at  # the clock as the commit read it
                    for request in transition.spawn:
                        self._start_linked(batch.instance, request)
                if transition.halts:
                    break  # the interpreter stops after a halt; a limit failure replaced what it would do next
                run_pending = run_pending or not transition.halts
                if stopping:
                    break  # a `run` job was committed with the transition, so the next tick resumes here
            if batch.steps or batch.create is not None:  # the drive ended without a halt (a stale trigger, a stop)
                self._flush(batch)
            return batch.instance, committed
        finally:
            self._transition_now = None
            if client is not None and client is not self._shared_client:
                client.close()
            if batch.holds if batch is not None else holds:
                self.store.release_lease(instance_id, self.owner)

    def _bounded(self, interp: Interpreter, instance: Instance, transition: Transition, stored_events: int
                 ) -> Transition:
        """The transition, or the instance's failure when it would take the context or the history over its limit
        (the store keeps the context as it was, so it stays small); a warning event when the context grows past
        a quarter of its limit."""
        limits = self.data_limits
        events = stored_events + len(transition.events)
        size = json_size(transition.snapshot.context)
        state = transition.snapshot.current_state
        if size > limits.context:
            return self._over_limit(interp, instance, transition, "context", size, limits.context)
        if events > limits.history_events:
            return self._over_limit(interp, instance, transition, "history_events", events, limits.history_events)
        warnings = []
        if size * WARN_FRACTION > limits.context >= json_size(instance.context) * WARN_FRACTION:
            self.warn(warning_message(f"the context of {instance.id[:8]}", size, limits.context, "context"))
            warnings.append(NewEvent("limit.warning", state, {"limit": "context", "size": size,
                                                              "max": limits.context}))
        if events * WARN_FRACTION > limits.history_events >= stored_events * WARN_FRACTION:
            self.warn(f"the history of {instance.id[:8]} holds {events} events, over a quarter of the "
                      f"history-events limit ({limits.history_events})")
            warnings.append(NewEvent("limit.warning", state, {"limit": "history_events", "size": events,
                                                              "max": limits.history_events}))
        return replace(transition, events=[*transition.events, *warnings]) if warnings else transition

    def _over_limit(self, interp: Interpreter, instance: Instance, transition: Transition, name: str, size: int,
                    limit: int) -> Transition:
        code = {"context": "CONTEXT_LIMIT_EXCEEDED", "history_events": "HISTORY_LIMIT_EXCEEDED"}[name]
        what = "the context" if name == "context" else "the history"
        reason = over_message(what, size, limit, name) if name == "context" else (
            f"the history would hold {size} events, over the history-events limit of {limit}; raise it with "
            f"JCTL_LIMIT_HISTORY_EVENTS or `history-events = ...` under [tool.jctl.limits]")
        failure = interp.failed(snapshot_of(instance), {"code": code, "reason": reason})
        # recorded at the state whose transition crossed the limit, where the instance fails (not where it was going)
        crossed = NewEvent("limit.exceeded", instance.current_state, {"limit": name, "size": size, "max": limit})
        kept = transition.events if name == "context" else []
        return replace(failure, events=[*kept, crossed, *failure.events])

    def _add(self, batch: _Batch, transition: Transition, counters: dict[str, int], run_pending: bool,
             idempotency_key: str | None, project_var: str | None) -> None:
        """Work out what committing `transition` writes and add it to the batch, which commits at the next flush."""
        from jctl.store.models import StepWrite

        instance = batch.instance
        snap = transition.snapshot
        cursor = {**snap.cursor, "mockCounters": dict(counters)}
        updated = replace(instance, phase=snap.phase, current_state=snap.current_state, context=snap.context,
                          cursor=cursor, output=snap.output, error=snap.error, attributes=snap.attributes)
        schedule, cancel = list(transition.schedule), transition.cancel_due
        if transition.halts and cancel is not True:
            cancel = [*(cancel or []), "run"]  # the run job kept the drive resumable; it has done its work
        elif not transition.halts and not run_pending:
            schedule.append(NewDueWork("run", self._now(), snap.current_state))
        preview = replace(updated, updated_at=self._now()) if transition.halts else updated  # for answers
        idempotency = None
        if idempotency_key:  # pending until the drive halts, so a crash in between cannot lose the key
            answer = envelopes.envelope(preview, project_var) if transition.halts else None
            idempotency = KeyRecord(idempotency_key, answer, project_var)
        settle = None
        if transition.halts:  # answer the keys whose drive this transition ends (ours, or a killed process's)
            stored = self.store.pending_keys(instance.id) if batch.stored_keys_pending else []
            pending = [*stored, *batch.recorded_keys]
            settle = {k.key: envelopes.envelope(preview, k.project_var) for k in pending}
        if idempotency is not None and idempotency.response is None:
            batch.recorded_keys.append(idempotency)
        batch.steps.append(StepWrite(transition.events, schedule, cancel, idempotency, settle,
                                     list(transition.writes)))
        batch.instance = updated
        batch.halts = transition.halts

    def _flush(self, batch: _Batch) -> None:
        """Commit the batch's transitions in one transaction (all or none), then start a new batch."""
        if not batch.steps and batch.create is None and not batch.claim:
            return
        steps = batch.steps  # a `run` item an earlier step schedules is cancelled by the halting step, in order
        try:
            batch.instance = self.store.commit_transitions(
                batch.instance, expected_version=batch.version, steps=steps, after_seq=batch.after_seq,
                release_lease=self.owner if batch.halts else None, create=batch.create,
                lease_owner=self.owner if batch.create is not None and not batch.halts else None,
                claim_lease=self.owner if batch.claim else None)
        except ConflictError:
            if not batch.claim:
                raise
            raise InstanceBusy(f"instance {batch.instance.id} is being advanced by another jctl process; "
                               f"try again") from None
        batch.holds = not batch.halts  # the halting commit ended the lease; the others keep or take it
        batch.create, batch.claim = None, False
        batch.version = batch.instance.version
        batch.after_seq += sum(len(step.events) for step in steps)
        batch.steps = []

    def _start_linked(self, parent: Instance, request: dict[str, Any]) -> None:
        """Create a linked instance (an async compensation) due to run now; `tick` or the worker runs it."""
        from jctl.clock import format_rfc3339

        definition = request["definition"]
        now = self.store.now()
        cursor = {"specPath": parent.cursor.get("specPath"), "paused": None, "mockCounters": {},
                  "startedAt": format_rfc3339(now), "platformConfig": parent.cursor.get("platformConfig") or {},
                  "outcome": request["outcome"], "compensationOf": parent.id}
        linked = Instance(id=request["id"], journey_name=definition["metadata"]["name"], kind="Journey",
                          definition=definition, phase="RUNNING", current_state=definition["spec"]["start"],
                          cursor=cursor, context=request["context"], tags=list(parent.tags), mocks=parent.mocks)
        start = definition["spec"]["start"]
        self.store.create_instance(linked, [NewEvent("journey.started", start, {"compensationOf": parent.id})],
                                   [NewDueWork("run", now, start)])

    def _now(self) -> datetime:
        """The simulated clock as one transition sees it: read once per transition (each of its expressions, timers
        and its commit see the same instant); the next one starts from the clock its predecessor's commit read."""
        if self._transition_now is None:
            self._transition_now = self.store.now()
        return self._transition_now

    def _interpreter(self, instance: Instance, client: LazyClient) -> Interpreter:
        from jctl.tasks.plugins import PluginEnvironment

        spec_path = instance.cursor.get("specPath")
        seams = Seams(evaluate=self._evaluator(), http_client=client, now=self._now,
                      platform=platform_binding(instance), random=_jitter(instance.cursor.get("seed")),
                      bindings={"outcome": instance.cursor["outcome"]} if "outcome" in instance.cursor else {},
                      cache_get=self.store.cache_get, active_schedules=self.store.active_schedules,
                      http_auth=self._http_auth(instance),
                      plugin_env=PluginEnvironment(self.request, *self.plugin_config, self.secrets))
        return Interpreter(instance.definition, seams, spec_path=_path(spec_path) if spec_path else None,
                           max_transitions=self._limit("maxTransitions"),
                           max_inline_timers=self._limit("maxInlineTimers"))

    def _http_auth(self, instance: Instance) -> OutboundAuth:
        return outbound_auth(instance, self.secrets, self._now, self.token_cache, self.data_limits.http_body,
                             real_network=self.http_transport is None)

    def _http_client(self, instance: Instance, counters: dict[str, int]) -> LazyClient:
        """Mocked instances get the runner's mock client, bound to their rules and to this drive's counters; the
        others share one real client."""
        if instance.mocks is not None:
            if self._mock_client is None:
                self._mock_client = _MockClient(self.data_limits.http_body)
            self._mock_client.bind(instance.mocks, counters)
            return self._mock_client
        if self._shared_client is None:
            self._shared_client = LazyClient(lambda: self.http_transport, self.data_limits.http_body)
        return self._shared_client

    def close(self) -> None:
        if self._shared_client is not None:
            self._shared_client.close()
            self._shared_client = None
        if self._mock_client is not None:
            self._mock_client.shut()
            self._mock_client = None

    def _evaluator(self) -> Callable[[str, str, dict[str, Any]], Any]:
        from jctl.expr import EvalOptions, ExpressionError, evaluate

        def run(lang: str, expr: str, bindings: dict[str, Any]) -> Any:
            seed = _evaluation_seed(self.uuid_seed, lang, expr, bindings) if self.uuid_seed is not None else None
            options = EvalOptions(now=self._now(), uuid_seed=seed, timeout_s=self.expr_timeout_s)
            try:
                return evaluate(lang, expr, bindings, options)
            except ExpressionError as exc:
                raise StateError("EXPRESSION_ERROR", f"{lang} expression failed: {exc}") from None

        return run

    def _get(self, id_or_prefix: str) -> Instance:
        try:
            return self.store.get_instance(id_or_prefix)
        except (StoreUnknownInstance, AmbiguousInstance) as exc:
            raise UnknownInstance(str(exc)) from None


@functools.lru_cache(maxsize=64)
def _path(text: str) -> Path:
    """The spec path a cursor names, built once per text (a drive asks for it every time)."""
    return Path(text)


class _MockClient(LazyClient):
    """The client of mocked drives: one httpx client (building one costs more than a mocked call) answering from
    the rules and counters of the drive it is bound to; each binding starts with no cookies, as a new client
    would, and a drive's `close` only unbinds it. Nothing of httpx loads until a drive makes a call."""

    def __init__(self, max_body: int | None):
        super().__init__(self._transport, max_body)
        self._rules: tuple[dict[str, Any], dict[str, int]] | None = None
        self._bound: httpx.MockTransport | None = None

    def bind(self, mocks: dict[str, Any], counters: dict[str, int]) -> None:
        self._rules, self._bound = (mocks, counters), None
        if self._client is not None:
            self._client.cookies.clear()

    def _transport(self) -> httpx.BaseTransport:
        import httpx

        return httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if self._bound is None:
            from jctl.tasks.mocks import mock_transport

            assert self._rules is not None, "a mocked call outside a drive"
            self._bound = mock_transport(*self._rules)
        return self._bound.handle_request(request)

    def close(self) -> None:
        self._rules = self._bound = None

    def shut(self) -> None:
        super().close()


def _evaluation_seed(seed: str, lang: str, expr: str, bindings: dict[str, Any]) -> str:
    """With --seed, uuid()/random() are a pure function of the seed, the expression and its inputs (all bindings but
    `platform`, which carries the run's own id): runs replay the same ids, also after a resume in another process,
    while different sites or inputs get different ones."""
    import hashlib
    import json

    inputs = {name: value for name, value in bindings.items() if name != "platform"}
    material = json.dumps([seed, lang, expr, inputs], sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _jitter(seed: Any) -> Callable[[str], float]:
    """Retry jitter: with --seed a pure function of the seed and the attempt, random otherwise."""
    import random

    if seed is None:
        return lambda key: random.random()
    import hashlib

    return lambda key: int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:13], 16) / 16 ** 13


class _Batch:
    """Transitions of one drive worked out but not committed yet: `instance` as the last of them leaves it,
    `version` and `after_seq` as the store holds them, and the idempotency keys the drive answers when it halts."""

    def __init__(self, instance: Instance, after_seq: int, stored_keys_pending: bool) -> None:
        self.instance = instance
        self.version = instance.version
        self.after_seq = after_seq
        self.steps: list[StepWrite] = []
        self.halts = False
        self.stored_keys_pending = stored_keys_pending  # keys of earlier drives (a killed process's) to answer
        self.recorded_keys: list[KeyRecord] = []  # keys this drive recorded, committed or not: answered at its halt
        self.create: PreparedCreate | None = None  # the instance itself, when its first commit inserts it
        self.claim = False  # the lease is taken by the next commit
        self.holds = True  # the drive holds the instance's lease


def _cancel_if_running(interp: Interpreter, snap: Snapshot) -> Iterator[Transition]:
    """Another process may have ended the instance between the caller's check and the lease."""
    if snap.phase == "RUNNING":
        yield interp.cancel(snap)


def _drive_for(work: DueWork) -> Drive:
    """What a due item asks of the interpreter."""
    branch = work.data.get("branch")
    if work.kind == "run":
        return lambda interp, snap: interp.run(snap)
    if work.kind == "timer":
        return lambda interp, snap: interp.timer_fired(snap, work.state, branch)
    if work.kind == "step-timeout":
        return lambda interp, snap: interp.step_timed_out(snap, work.state, branch)
    if work.kind == "deadline":
        return lambda interp, snap: interp.deadline_reached(snap)
    if work.kind == "retry":
        return lambda interp, snap: interp.retry_due(snap, work.state, branch)
    return lambda interp, snap: iter(())


def _due_label(work: DueWork) -> str:
    """`fired timer reminder`, `ran`, ...: what running the item did, for tick and worker output."""
    verb = DUE_VERBS.get(work.kind, work.kind)
    return f"{verb} {work.state}" if work.state and work.kind != "run" else verb


def _noted(transitions: Iterator[Transition], event: NewEvent | None) -> Iterator[Transition]:
    """The transitions, the first carrying `event` too (a payload's limit warning lands with `signal.received`)."""
    for transition in transitions:
        if event is not None:
            transition.events.append(event)
            event = None
        yield transition


def snapshot_of(instance: Instance) -> Snapshot:
    """The part of an instance the interpreter works on (cursor and attributes copied, so it cannot alias)."""
    return Snapshot(instance.phase, instance.current_state, instance.context, dict(instance.cursor),
                    instance.output, instance.error, dict(instance.attributes))


def outbound_auth(instance: Instance, secrets: Secrets, now: Callable[[], datetime], tokens: TokenCache,
                  max_body: int | None, *, real_network: bool = True) -> OutboundAuth:
    """The `auth.policyRef` seam of an instance's HTTP tasks (every driver's): the local secrets, OAuth2 tokens
    reused across instances, and real clients presenting a certificate unless the calls are mocked."""
    from jctl.tasks.outbound_auth import OutboundAuth, mtls_client_factory

    mtls = mtls_client_factory(max_body) if real_network and instance.mocks is None else None
    return OutboundAuth(instance.definition.get("spec") or {}, secrets, now, tokens, mtls)


def platform_binding(instance: Instance) -> dict[str, Any]:
    """The `platform` variable expressions see: environment, journey, run and config."""
    metadata = instance.definition.get("metadata") or {}
    return {"environment": "local",
            "journey": {"name": instance.journey_name, "kind": instance.kind, "version": metadata.get("version")},
            "run": {"id": instance.id, "startedAt": instance.cursor.get("startedAt"), "traceparent": None},
            "config": instance.cursor.get("platformConfig") or {}}

