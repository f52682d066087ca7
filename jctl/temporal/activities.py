"""The one activity of a journey: advance an instance's snapshot by one trigger up to its next pause, with every
effect (HTTP and plugin tasks, expression engines) happening here, on a worker, never in workflow code. Its result
(the transitions) is recorded in the workflow history, so a replay reuses it instead of calling anything again.

The worker's environment gives it what the local runner gives its drives: a store for the plugins' effects (cache
reads and puts, the kafkaPublish outbox), the local secrets and the plugin config. The store writes of a trigger are
applied once, before the result is returned; secret values are blanked out of everything returned or raised, since
Temporal records it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from jctl.engine.interpreter import Interpreter
from jctl.engine.seams import Seams
from jctl.engine.transitions import Snapshot, StateError, Transition
from jctl.secrets import Secrets
from jctl.temporal.codec import instance_of, snapshot_of_doc, transition_doc

if TYPE_CHECKING:
    from jctl.store.db import Store
    from jctl.store.models import StoreWrite
    from jctl.tasks.outbound_auth import TokenCache

EXPRESSION_TIMEOUT_S = 5.0
# task plugins whose effect needs a local driver: schedule:v1 bindings are started by the local `tick`/worker from
# the store that holds their creating instance, which a Temporal journey never is (refused at start)
UNSUPPORTED_TASKS = {"schedule:v1": "its bindings are started by the local `tick`/`worker` from the local store, "
                                    "which holds no Temporal journey to start them from"}


def _token_cache() -> TokenCache:
    from jctl.tasks.outbound_auth import TokenCache

    return TokenCache()


@dataclass
class WorkerEnvironment:
    """What a worker gives each activity: the store plugin effects go to (`db`, default `$JCTL_DB` or
    .jctl/jctl.db, opened on first use), the local secrets and the plugin config (`--secrets`, `--plugin-config`)."""

    db: Path | None = None
    secrets: Secrets = field(default_factory=Secrets)
    plugin_config: tuple[dict[str, Any], Path | None] = field(default_factory=lambda: ({}, None))
    tokens: TokenCache = field(default_factory=_token_cache)  # OAuth2 tokens, reused across the worker's activities
    _store: Store | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from jctl.store.db import Store, default_db_path

                self._store = Store.open(self.db or default_db_path())
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


class JourneyActivities:
    """The activities of a worker, bound to its environment."""

    def __init__(self, environment: WorkerEnvironment | None = None):
        self.environment = environment or WorkerEnvironment()

    @activity.defn(name="jctl.advance")
    def advance(self, request: dict[str, Any]) -> dict[str, Any]:
        """`request`: {instance, trigger: {kind, state?, branch?, payload?, step?}, now}; returns the transitions the
        trigger causes and the mock counters after them. The trigger's store writes are keyed by workflow, run and
        the instance version it starts from (a retry of this activity starts from the same one)."""
        info = activity.info()
        key = f"{info.workflow_id}/{info.workflow_run_id}/{request['instance']['version']}"
        return run_trigger(request["instance"], request["trigger"], datetime.fromisoformat(request["now"]),
                           self.environment, effects_key=key)


def run_trigger(instance_doc: dict[str, Any], trigger: dict[str, Any], now: datetime,
                environment: WorkerEnvironment, *, effects_key: str | None = None) -> dict[str, Any]:
    """Run one trigger and apply its store writes with its answer, once per `effects_key` (default: the instance id
    and version): a retried trigger whose writes an earlier attempt applied answers what that attempt answered,
    without running again. The answer, and any error raised, with the secret values blanked out."""
    secrets = environment.secrets
    try:
        return _run(instance_doc, trigger, now, environment, effects_key)
    except ApplicationError as exc:
        raise _scrubbed_error(exc, secrets) from None
    except Exception as exc:  # a store or worker failure: retried by Temporal, its message recorded in the history
        raise ApplicationError(secrets.scrub(f"{type(exc).__name__}: {exc}"), type=type(exc).__name__) from None


def _run(instance_doc: dict[str, Any], trigger: dict[str, Any], now: datetime, env: WorkerEnvironment,
         effects_key: str | None) -> dict[str, Any]:
    from jctl.clock import wall_now
    from jctl.engine.errors import InvalidPayload, StepConflict
    from jctl.engine.runner import outbound_auth, platform_binding
    from jctl.tasks.http import LazyClient
    from jctl.tasks.plugins import PluginEnvironment, with_unsaved

    instance = instance_of(instance_doc)
    tasks = _task_kinds(instance.definition)
    refused = unsupported(tasks)
    if refused:  # started by a client that did not check: fails for good before a step runs, dropping nothing
        raise ApplicationError(refused, type="UnsupportedTask", non_retryable=True)
    key = effects_key or f"{instance.id}/{instance.version}"
    if any(kind != "httpCall:v1" for kind in tasks.values()):  # task plugins: effects in the store, with answers
        earlier = env.store().applied_answer(key)
        if earlier is not None:  # an attempt before this one applied its writes and died before reporting
            answer: dict[str, Any] = json.loads(earlier)
            return answer
    counters: dict[str, int] = dict(instance.cursor.get("mockCounters") or {})
    client = LazyClient(_transport(instance.mocks, counters))
    spec_path = instance.cursor.get("specPath")
    # the writes of the trigger's earlier steps, applied only at its end: its later steps read them first
    pending: list[StoreWrite] = []
    cache_get, _ = with_unsaved(pending, lambda name: env.store().cache_get(name, now), lambda *identity: [])
    seams = Seams(evaluate=_evaluator(now), http_client=client, now=lambda: now,
                  platform={**platform_binding(instance), "environment": "temporal"}, cache_get=cache_get,
                  # tokens are shared by the worker's journeys, whose clocks differ: their lifetime is wall time
                  http_auth=outbound_auth(instance, env.secrets, wall_now, env.tokens, None),
                  plugin_env=PluginEnvironment(None, *env.plugin_config, env.secrets))
    interp = Interpreter(instance.definition, seams, spec_path=Path(spec_path) if spec_path else None)
    made: list[Transition] = []
    try:
        for transition in _drive(interp, snapshot_of_doc(instance_doc), trigger):
            made.append(transition)
            pending.extend(transition.writes)
    except (InvalidPayload, StepConflict) as exc:  # the instance moved on between validation and delivery
        raise ApplicationError(exc.message, {"details": exc.details, "hint": exc.hint},
                               type=type(exc).__name__, non_retryable=True) from None
    finally:
        client.close()
    result: dict[str, Any] = env.secrets.scrubbed({"transitions": [transition_doc(t) for t in made],
                                                    "mockCounters": counters})
    if pending:
        stood = env.store().apply_effects(key, instance.id, pending, now, json.dumps(result, separators=(",", ":")))
        if stood is not None:  # an attempt running beside this one applied first: its answer stands
            kept: dict[str, Any] = json.loads(stood)
            return kept
    return result


def unsupported(tasks: dict[str, str]) -> str | None:
    """Why a Temporal worker cannot run a journey with these task states (`_task_kinds`): the first whose kind it
    cannot honour; None when it can run them all."""
    for state, kind in tasks.items():
        if kind in UNSUPPORTED_TASKS:
            return f"state {state!r} uses {kind}, which cannot run on Temporal: {UNSUPPORTED_TASKS[kind]}"
    return None


def _task_kinds(definition: dict[str, Any]) -> dict[str, str]:
    """The kind of each task state of a definition, nested states included, by state id."""
    from jctl.spec.model import iter_states

    found = {}
    for ref in iter_states(definition):
        task = ref.state.get("task")
        kind = task.get("kind") if ref.type == "task" and isinstance(task, dict) else None
        if isinstance(kind, str):
            found[ref.state_id] = kind
    return found


def refusal(definition: dict[str, Any]) -> str | None:
    """`unsupported` for a whole definition (what `run --target temporal://` checks before it starts one)."""
    return unsupported(_task_kinds(definition))


def _scrubbed_error(exc: ApplicationError, secrets: Secrets) -> ApplicationError:
    details = [secrets.scrubbed(detail) for detail in exc.details]
    return ApplicationError(secrets.scrub(exc.message), *details, type=exc.type, non_retryable=exc.non_retryable)


def _drive(interp: Interpreter, snap: Snapshot, trigger: dict[str, Any]) -> Iterator[Transition]:
    kind, state, branch = trigger["kind"], trigger.get("state"), trigger.get("branch")
    if kind == "run":
        return interp.run(snap)
    if kind == "signal":
        return interp.signal(snap, trigger.get("payload"), trigger.get("step"))
    if kind == "timer":
        return interp.timer_fired(snap, state, branch)
    if kind == "step-timeout":
        return interp.step_timed_out(snap, state, branch)
    if kind == "deadline":
        return interp.deadline_reached(snap)
    if kind == "cancel":
        return iter([interp.cancel(snap)]) if snap.phase == "RUNNING" else iter(())
    raise ApplicationError(f"unknown trigger {kind!r}", type="UnknownTrigger", non_retryable=True)


def _transport(mocks: dict[str, Any] | None, counters: dict[str, int]) -> Callable[[], Any]:
    if mocks is None:
        return lambda: None  # httpx's real network transport
    from jctl.tasks.mocks import mock_transport

    return lambda: mock_transport(mocks, counters)


def _evaluator(now: datetime) -> Callable[[str, str, dict[str, Any]], Any]:
    from jctl.expr import EvalOptions, ExpressionError, evaluate

    def run(lang: str, expr: str, bindings: dict[str, Any]) -> Any:
        try:
            return evaluate(lang, expr, bindings, EvalOptions(now=now, timeout_s=EXPRESSION_TIMEOUT_S))
        except ExpressionError as exc:
            raise StateError("EXPRESSION_ERROR", f"{lang} expression failed: {exc}") from None

    return run
