"""One handler per state type: each takes the snapshot at a state and returns the transition it makes.
Nested graphs (parallel branches, subjourneys) run synchronously through the same handlers."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jctl.clock import later
from jctl.engine.cookies import CURSOR_KEY, CookieJar, jar_config
from jctl.engine.parallel import ParallelState
from jctl.engine.retries import plan_retry, without_retry
from jctl.engine.support import unsupported_in
from jctl.engine.transitions import Snapshot, StateError, Transition, timer_next
from jctl.store.models import NewDueWork, NewEvent, StoreWrite

if TYPE_CHECKING:
    from jctl.engine.roles import Machine

Handler = Callable[[str, dict[str, Any], Snapshot], Transition]


class StateExecutor:
    """Runs one state of a graph: dispatches on `type` to the `_<type>` handler and turns failures into a failed
    transition (top level) or a StateError for the enclosing branch or subjourney."""

    def __init__(self, interpreter: Machine):
        self.interp = interpreter
        self.spec = interpreter.spec
        self.seams = interpreter.seams
        self.mode: str | None = None
        self.bindings: dict[str, Any] = dict(interpreter.seams.bindings)
        self.parallel = ParallelState(self)
        self.jar: CookieJar | None = None  # the run's cookie jar while a top-level state runs (dsl.md 22)
        # store writes of branch steps in the transition being built: not committed yet, so later steps of that
        # transition (a sibling branch's cache get, a schedule's onExisting check) read them through this overlay
        self.unsaved_writes: list[StoreWrite] = []

    def begin_transition(self) -> None:
        self.unsaved_writes = []

    def execute(self, snap: Snapshot, states: dict[str, Any] | None = None, mode: str | None = None) -> Transition:
        """mode None: a top-level state; "branch": inside a parallel branch or a subjourney, at any depth (it may
        pause: the enclosing frame keeps its position). A top-level state loads the run's cookie jar from the
        cursor and leaves it, changed by the HTTP tasks it ran at any depth, in its transition's cursor."""
        if mode is not None:
            return self._execute(snap, states, mode)
        self.jar = CookieJar.of(self.spec, snap.cursor)
        return self.keep_jar(self._execute(snap, states, None))

    def keep_jar(self, transition: Transition) -> Transition:
        if self.jar is not None:
            after = transition.snapshot
            transition.snapshot = replace(after, cursor={**after.cursor, CURSOR_KEY: self.jar.state()})
        return transition

    def _execute(self, snap: Snapshot, states: dict[str, Any] | None, mode: str | None) -> Transition:
        states = self.interp.states if states is None else states
        state_id = snap.current_state
        state = states.get(state_id) if state_id is not None else None
        if not isinstance(state, dict):
            error = {"code": "INVALID_STATE", "reason": f"state {state_id!r} does not exist in the spec"}
            if mode:
                raise StateError(error["code"], error["reason"])
            return self.interp.failed(snap, error)
        kind = str(state.get("type"))
        handler: Handler | None = getattr(self, "_" + kind, None)
        if mode is None:
            self.begin_transition()
        outer_mode, self.mode = self.mode, mode
        try:
            if handler is None:
                raise StateError("NOT_SUPPORTED", f"state type {kind!r} is not supported by the local runner")
            missing = unsupported_in(self.spec, state)
            if missing:
                raise StateError("NOT_SUPPORTED", missing)
            return handler(str(state_id), state, snap)
        except StateError as exc:
            if mode:  # engine errors inside a branch or subjourney fail the whole run, not just the branch
                raise StateError(exc.code, f"state {state_id}: {exc.reason}") from None
            return self.interp.failed(snap, {"code": exc.code, "reason": f"state {state_id}: {exc.reason}"})
        except Exception as exc:  # a bug must fail the instance with a message, not leave it half-advanced
            reason = f"state {state_id}: internal error {type(exc).__name__}: {exc}"
            if mode:
                raise StateError("INTERNAL_ERROR", reason) from None
            return self.interp.failed(snap, {"code": "INTERNAL_ERROR", "reason": reason})
        finally:
            self.mode = outer_mode

    def clamp(self, timeout: int, units_per_second: int) -> int:
        """A step or HTTP timeout clamped to the time left before spec.execution.maxDurationSec (dsl.md 2.4);
        with no time left, the run is timed out instead of starting the operation."""
        from jctl.clock import parse_rfc3339

        budget = (self.spec.get("execution") or {}).get("maxDurationSec")
        started = (self.seams.platform.get("run") or {}).get("startedAt")
        if not isinstance(budget, int) or not isinstance(started, str):
            return timeout
        left = budget - (self.seams.now() - parse_rfc3339(started)).total_seconds()
        if left <= 0:
            raise StateError("JOURNEY_TIMEOUT", "no time is left of spec.execution.maxDurationSec")
        return max(1, min(timeout, int(left * units_per_second)))

    # -- expressions ----------------------------------------------------------------------------------------
    def evaluate(self, expression: Any, context: dict[str, Any], where: str, **extra: Any) -> Any:
        mapper = self.resolve_mapper(expression, where)
        # `payload` is the step submission in scope (context.payload, dsl.md 10.2) unless the site binds its own
        bindings = {"context": context, "payload": context.get("payload"), "platform": self.seams.platform,
                    "error": None, **self.bindings, **extra}
        return self.seams.evaluate(str(mapper["lang"]), str(mapper["expr"]), bindings)

    def resolve_mapper(self, holder: Any, where: str) -> dict[str, Any]:
        """`{mapper: {lang, expr}}`, `{mapperRef: id}` or a bare `{lang, expr}`."""
        if isinstance(holder, dict) and "mapperRef" in holder:
            ref = holder["mapperRef"]
            # an explicit id of spec.mappers, or of spec.errors.normalisers (dsl.md 5.7: used only when referenced)
            mapper = (self.spec.get("mappers") or {}).get(ref) or self.normaliser(ref)
            if isinstance(mapper, dict) and isinstance(mapper.get("mapper"), dict):
                mapper = mapper["mapper"]
            if not isinstance(mapper, dict):
                raise StateError("INVALID_SPEC", f"{where}: mapperRef {ref!r} is not in spec.mappers or "
                                                 f"spec.errors.normalisers")
            return mapper
        if isinstance(holder, dict) and isinstance(holder.get("mapper"), dict):
            holder = holder["mapper"]
        if not isinstance(holder, dict) or "lang" not in holder or "expr" not in holder:
            raise StateError("INVALID_SPEC", f"{where}: expected a mapper with lang and expr")
        return holder

    def normaliser(self, ref: Any) -> dict[str, Any] | None:
        found = ((self.spec.get("errors") or {}).get("normalisers") or {}).get(ref)
        return found if isinstance(found, dict) else None

    # -- handlers -------------------------------------------------------------------------------------------
    def _step(self, snap: Snapshot, state_id: str, state: dict[str, Any], context: dict[str, Any],
              nxt: Any, **data: Any) -> Transition:
        """The transition of a state that completes and moves on to `nxt`."""
        if not nxt:
            raise StateError("INVALID_SPEC", "has no next state")
        event = NewEvent("state.completed", state_id, {"type": state.get("type"), "next": nxt, **data})
        return Transition(replace(snap, context=context, current_state=str(nxt)), [event])

    def _task(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        from jctl.tasks.http import TaskError, build_call

        task = state.get("task") or {}
        if task.get("kind") != "httpCall:v1":
            return self._plugin_task(state_id, state, task, snap)
        context = dict(snap.context)
        try:
            call = build_call(task, self.spec, context, self.interp.catalog,
                              lambda body: self.evaluate(body, context, "task.body"))
        except TaskError as exc:
            raise StateError("TASK_ERROR", str(exc)) from None
        call.timeout_ms = self.clamp(call.timeout_ms, 1000)
        attached = self._attach_cookies(task, call)
        outcome = self._send(task, call)
        cookies = {**attached, **self._keep_cookies(call, outcome)}
        if cookies:
            outcome.record["cookies"] = cookies
        retry = plan_retry(self.spec, self.seams, state_id, task, snap, outcome.result, outcome.record)
        if retry is not None:
            return retry
        snap = without_retry(snap)
        attributes = snap.attributes
        if not call.notify and task.get("resultVar"):
            context[str(task["resultVar"])] = outcome.result
            mapping = task.get("errorMapping")
            if isinstance(mapping, dict) and outcome.result.get("ok") is False:
                # payload is the stored result itself (its `error` says TIMEOUT or NETWORK); the `error` binding
                # is the one that is null at this site (dsl.md 5.1, 10.2)
                # a spec.errors normaliser is an error-handling site: there `error` is the low-level result
                error = outcome.result if self.normaliser(mapping.get("mapperRef")) is not None else None
                value = self.evaluate(mapping, context, "errorMapping", payload=outcome.result, error=error)
                context, attributes = write_target(context, attributes, value, mapping.get("target"),
                                                   mapping.get("resultVar"))
        transition = self._step(snap, state_id, state, context, state.get("next"), http=outcome.record)
        transition.snapshot.attributes = attributes
        return transition

    def _run_jar(self) -> CookieJar | None:
        if self.jar is None and jar_config(self.spec) is not None:
            self.jar = CookieJar.of(self.spec, {})  # a sync compensation run after a cancel: no state loaded one
        return self.jar

    def _attach_cookies(self, task: dict[str, Any], call: Any) -> dict[str, Any]:
        """dsl.md 22.3: jar cookies go out unless the task opts out or the request has its own Cookie header."""
        from jctl.tasks.http import has_header

        jar = self._run_jar()
        options = task.get("cookies")
        opted_out = isinstance(options, dict) and options.get("useJar") is False
        if jar is None or opted_out or has_header(call.headers, "Cookie"):
            return {}
        header, names = jar.cookie_header(call.url, self.seams.now())
        if header is None:
            return {}
        call.headers["Cookie"] = header
        return {"attached": names}

    def _keep_cookies(self, call: Any, outcome: Any) -> dict[str, Any]:
        """dsl.md 22.2: a response's Set-Cookie lines fill the jar, except a notify call's."""
        jar = self._run_jar()
        if jar is None or call.notify or not outcome.set_cookies:
            return {}
        return jar.ingest(call.url, outcome.set_cookies, self.seams.now()).record()

    def _send(self, task: dict[str, Any], call: Any) -> Any:
        from jctl.tasks.http import execute
        from jctl.tasks.outbound_auth import AuthError

        if self.seams.http_auth is None:
            return execute(call, self.seams.http_client)
        try:
            return self.seams.http_auth.execute(task, call, self.seams.http_client)
        except AuthError as exc:
            raise StateError(exc.code, exc.reason) from None

    def _plugin_task(self, state_id: str, state: dict[str, Any], task: dict[str, Any], snap: Snapshot) -> Transition:
        """Any other task kind runs through its plugin (jctl/tasks/plugins.py); its store writes (outbox, cache,
        schedules) ride on the transition so they commit with it; in a branch, on the transition of the top-level
        state that runs the branch step."""
        from jctl.tasks.plugins import PluginEnvironment, PluginError, TaskCall, plugin_for, with_unsaved

        plugin = plugin_for(task.get("kind"))
        if plugin is None:
            raise StateError("NOT_SUPPORTED", f"task kind {task.get('kind')!r} is not supported by the local runner")
        context = copy.deepcopy(snap.context)
        env = self.seams.plugin_env or PluginEnvironment()
        cache_get, active_schedules = with_unsaved(self.unsaved_writes, self.seams.cache_get,
                                                   self.seams.active_schedules)
        call = TaskCall(state_id, task, context, lambda site, where: self.evaluate(site, context, where),
                        self.seams.now, cache_get, self.interp.catalog.spec_path, self.seams.platform,
                        active_schedules, self.interp.states, env.request, env.config, env.config_dir, env.secrets)
        try:
            outcome = plugin.run(call)
        except PluginError as exc:
            raise StateError(exc.code, exc.reason) from None
        if self.mode is not None:  # a branch step: its writes ride on the owner's transition (jctl.engine.parallel)
            self.unsaved_writes += outcome.writes
        transition = self._step(snap, state_id, state, outcome.context, state.get("next"), **outcome.record)
        transition.writes = list(outcome.writes)
        return transition

    def _choice(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        for index, branch in enumerate(state.get("choices") or []):
            when = branch.get("when") or {}
            predicate = when.get("predicate") or branch.get("predicate")
            value = self.evaluate(predicate, snap.context, f"choices[{index}]")
            if not isinstance(value, bool):
                raise StateError("EXPRESSION_ERROR", f"choices[{index}] predicate returned {value!r}, not a boolean")
            if value:
                return self._step(snap, state_id, state, snap.context, branch.get("next"), matched=index)
        if not state.get("default"):
            raise StateError("NO_CHOICE_MATCHED", "no predicate matched and the choice has no default")
        return self._step(snap, state_id, state, snap.context, state.get("default"), matched="default")

    def _transform(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        block = state.get("transform") or {}
        value = self.evaluate(block, snap.context, "transform")
        context, attributes = write_target(snap.context, snap.attributes, value, block.get("target"),
                                           block.get("resultVar"))
        transition = self._step(snap, state_id, state, context, state.get("next"))
        transition.snapshot.attributes = attributes
        return transition

    def _wait(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        kind = str(state["type"])
        block = state.get(kind) or {}
        context = {k: v for k, v in snap.context.items() if k != "payload"}
        schedule: list[NewDueWork] = []
        configured = block.get("timeoutSec", state.get("timeoutSec"))
        timeout, extra = configured, {}
        if configured:
            timeout = self.clamp(int(configured), 1)
            extra = {"timeoutSec": timeout, **({"configuredTimeoutSec": configured} if timeout != configured else {})}
            try:
                due = later(self.seams.now(), timeout)
            except ValueError as exc:
                raise StateError("INVALID_TIMEOUT", f"timeoutSec {timeout}: {exc}") from None
            schedule.append(NewDueWork("step-timeout", due, state_id, {"seconds": timeout}))
        after = replace(snap, context=context, cursor={**snap.cursor, "paused": kind})
        event = NewEvent("step.waiting", state_id, {"type": kind, **extra})
        return Transition(after, [event], schedule, halts=True)

    _webhook = _wait

    def _timer(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        from jctl.clock import format_rfc3339, parse_duration, parse_rfc3339

        block = state.get("timer") or {}
        field = "duration" if "duration" in block else "until"
        raw = block.get(field)
        text = raw if isinstance(raw, str) else self.evaluate(raw, snap.context, f"timer.{field}")
        if not isinstance(text, str):
            raise StateError("EXPRESSION_ERROR", f"timer.{field} evaluated to {text!r}, not a string")
        try:
            due = later(self.seams.now(), parse_duration(text)) if field == "duration" else parse_rfc3339(text)
        except (ValueError, TypeError) as exc:
            raise StateError("INVALID_TIMER", f"timer.{field} {text!r} is not valid: {exc}") from None
        event = NewEvent("timer.scheduled", state_id, {"dueAt": format_rfc3339(due), field: text})
        if due <= self.seams.now() and self.interp.take_inline_timer():
            nxt = timer_next(state)  # already due (PT0S, `until` in the past): it fires within this trigger
            if not nxt:
                raise StateError("INVALID_SPEC", "has no next state")
            fired = NewEvent("timer.fired", state_id, {"next": nxt, "alreadyDue": True})
            return Transition(replace(snap, current_state=nxt), [event, fired])
        after = replace(snap, cursor={**snap.cursor, "paused": "timer"})
        return Transition(after, [event], [NewDueWork("timer", due, state_id)], halts=True)

    def _succeed(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        output_var = state.get("outputVar")
        output = snap.context.get(output_var) if output_var and output_var in snap.context else snap.context
        after = replace(snap, phase="SUCCEEDED", output=copy.deepcopy(output), cursor={**snap.cursor, "paused": None})
        return Transition(after, [NewEvent("journey.succeeded", state_id, {})], cancel_due=True, halts=True)

    def _fail(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        nested = state.get("fail")
        block = nested if isinstance(nested, dict) else state
        error = {"code": str(block.get("errorCode") or "JOURNEY_FAILED"), "reason": str(block.get("reason") or "")}
        return self.interp.failed(snap, error)

    def _parallel(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        return self.parallel.enter(state_id, state, snap)

    def _subjourney(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        return self.parallel.enter_subjourney(state_id, state, snap)


def write_target(context: dict[str, Any], attributes: dict[str, str], value: Any, target: Any,
                 result_var: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """transform/errorMapping target rules: context path, whole context, var or write-once attributes."""
    target = target if isinstance(target, dict) else {}
    kind = target.get("kind", "context")
    if kind == "attributes":
        if not isinstance(value, dict):
            raise StateError("EXPRESSION_ERROR", "an attributes target needs the mapper to return an object")
        clashes = sorted(set(value) & set(attributes))
        if clashes:
            raise StateError("ATTRIBUTE_ALREADY_SET", f"attributes are write-once; already set: {', '.join(clashes)}")
        from jctl.engine.metadata import MetadataError, check_attributes

        written = {**attributes, **{str(k): v if isinstance(v, str) else _json(v) for k, v in value.items()}}
        try:
            check_attributes(written)
        except MetadataError as exc:
            raise StateError("ATTRIBUTE_LIMIT", str(exc)) from None
        return context, written
    path = target.get("path")
    if kind == "var" or (not path and result_var):
        if not result_var:
            raise StateError("INVALID_SPEC", "target kind var needs resultVar")
        return {**context, str(result_var): value}, attributes
    if not path:
        if not isinstance(value, dict):
            raise StateError("EXPRESSION_ERROR", f"replacing the whole context needs an object, got {_json(value)[:80]}")
        return value, attributes
    return set_path(context, str(path), value), attributes


def set_path(context: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `context` with `value` at the dotted `path`, creating (and copying) the objects on the way."""
    parts = path.split(".")
    root = dict(context)
    node = root
    for part in parts[:-1]:
        child = node.get(part)
        node[part] = dict(child) if isinstance(child, dict) else {}
        node = node[part]
    node[parts[-1]] = value
    return root


def _json(value: Any) -> str:
    return json.dumps(value)
