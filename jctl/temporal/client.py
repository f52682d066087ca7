"""TemporalTarget: the instance commands (start, signal, status, list, history, cancel) against a Temporal
cluster, returning the same envelopes and raising the same errors as the local runner, so the CLI renders both
alike. Addressed as temporal://HOST:PORT/NAMESPACE."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from jctl.engine import envelopes
from jctl.engine.errors import InvalidPayload, NotCancellable, StepConflict, UnknownInstance
from jctl.errors import FindingsError, UsageError
from jctl.store.models import Event, Instance
from jctl.temporal import DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE
from jctl.temporal.codec import due_doc, event_doc, history_event, instance_doc
from jctl.temporal.workflow import WORKFLOW_NAME

T = TypeVar("T")


class TemporalUnavailable(UsageError):
    """The cluster cannot be reached (exit 2, like an unreachable Journeys API)."""


def parse_target(url: str) -> tuple[str, str, str]:
    """temporal://HOST:PORT/NAMESPACE[?taskQueue=Q] -> (HOST:PORT, NAMESPACE, Q); namespace `default` and task
    queue `jctl-journeys` when left out."""
    from urllib.parse import parse_qs

    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "temporal" or not parts.hostname or port is None:
        raise UsageError(f"--target {url!r} is not a Temporal address",
                         hint="write temporal://HOST:PORT/NAMESPACE, e.g. temporal://localhost:7233/default")
    namespace = parts.path.strip("/") or DEFAULT_NAMESPACE
    task_queue = (parse_qs(parts.query).get("taskQueue") or [DEFAULT_TASK_QUEUE])[0]
    return f"{parts.hostname}:{port}", namespace, task_queue


async def connect(address: str, namespace: str) -> Client:
    try:
        return await Client.connect(address, namespace=namespace)
    except RuntimeError as exc:
        raise TemporalUnavailable(f"cannot reach Temporal at {address} (namespace {namespace}): {exc}",
                                  hint="start one with `temporal server start-dev`, or check --address/--target") \
            from None


class TemporalTarget:
    """One cluster + namespace + task queue; each method is synchronous for the CLI and tests."""

    def __init__(self, address: str, namespace: str = DEFAULT_NAMESPACE, task_queue: str = DEFAULT_TASK_QUEUE,
                 *, activity_timeout_s: float = 60.0):
        self.address, self.namespace, self.task_queue = address, namespace, task_queue
        self.activity_timeout_s = activity_timeout_s
        self._loop = asyncio.new_event_loop()
        self._client: Client | None = None

    @classmethod
    def from_url(cls, url: str) -> TemporalTarget:
        return cls(*parse_target(url))

    def close(self) -> None:
        """Drop the connection on its own loop: a Temporal client left to interpreter shutdown can abort it."""
        import gc

        self._client = None
        gc.collect()
        self._loop.close()

    def __enter__(self) -> TemporalTarget:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, make: Callable[[Client], Awaitable[T]]) -> T:
        async def call() -> T:
            if self._client is None:
                self._client = await connect(self.address, self.namespace)
            try:
                return await make(self._client)
            except RPCError as exc:  # the cluster refused the call: a failed operation, not a bug of ours
                raise FindingsError(f"Temporal at {self.address} refused the call: {exc.message}") from None

        return self._loop.run_until_complete(call())

    # -- commands -------------------------------------------------------------------------------------------
    def start(self, definition_path: Path, input: Any, *, mocks: dict[str, Any] | None = None, detach: bool = False,
              auto_advance: bool = False, platform_config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check and plan the start exactly as locally (lint, input schema, mocks), then start the workflow with
        the definition snapshot in its input and, unless `detach`, wait until it first pauses or ends."""
        from jctl.clock import wall_now
        from jctl.engine.start import plan_start

        now = wall_now()
        plan = plan_start(Path(definition_path), input, mocks=mocks, supplied_config=platform_config or {},
                          now=now, detach=detach)
        instance = plan.instance
        _refuse_unsupported(instance, definition_path)
        instance.created_at = instance.updated_at = now
        start = {"instance": instance_doc(instance), "events": [event_doc(e) for e in plan.events],
                 "due": [due_doc(w) for w in plan.due],
                 "options": {"autoAdvance": auto_advance and not detach,
                             "activityTimeoutSec": self.activity_timeout_s}}
        memo = {"journeyName": instance.journey_name, "createdAt": now.isoformat(), "phase": "RUNNING",
                "currentState": instance.current_state, "updatedAt": now.isoformat(), "error": None}

        async def begin(client: Client) -> dict[str, Any]:
            handle = await client.start_workflow(WORKFLOW_NAME, start, id=instance.id, task_queue=self.task_queue,
                                                 memo=memo)
            if detach:
                return envelopes.start_response(instance)
            try:
                return _ordered(await handle.execute_update("settle"))
            except RPCError as exc:
                if "already completed" not in exc.message:
                    raise
                return _ordered(await handle.result())  # it ended before the update reached it

        return self._run(begin)

    def signal(self, id_or_prefix: str, payload: Any, *, step: str | None = None,
               idempotency_key: str | None = None) -> dict[str, Any]:
        """A step submission as an Update; the idempotency key is the update id, so a repeat gets the first
        answer from Temporal instead of a second delivery."""
        async def deliver(client: Client) -> dict[str, Any]:
            handle = await self._handle(client, id_or_prefix)
            try:
                return _ordered(await handle.execute_update("step", {"payload": payload, "step": step},
                                                            id=idempotency_key or uuid.uuid4().hex))
            except WorkflowUpdateFailedError as exc:
                raise _engine_error(exc.cause) from None
            except RPCError as exc:
                if "already completed" not in exc.message:
                    raise
            outcome = _ordered(await handle.query("status"))
            if idempotency_key:
                return outcome  # the journey ended (possibly by this very key's first delivery): its answer
            raise StepConflict(f"the instance has already finished ({outcome['phase']}); it accepts no more input")

        return self._run(deliver)

    def status(self, id_or_prefix: str) -> dict[str, Any]:
        async def read(client: Client) -> dict[str, Any]:
            return _ordered(await (await self._handle(client, id_or_prefix)).query("status"))

        return self._run(read)

    def history(self, id_or_prefix: str) -> list[Event]:
        async def read(client: Client) -> list[Event]:
            handle = await self._handle(client, id_or_prefix)
            return [history_event(doc, handle.id) for doc in await handle.query("history")]

        return self._run(read)

    def advance(self, id_or_prefix: str, seconds: float | None = None) -> dict[str, Any]:
        """Move one journey's clock by `seconds` (None: skip to each due timer), like `jctl clock advance`."""
        request = {"auto": True} if seconds is None else {"seconds": seconds}

        async def move(client: Client) -> dict[str, Any]:
            handle = await self._handle(client, id_or_prefix)
            return _ordered(await handle.execute_update("advance", request))

        return self._run(move)

    def cancel(self, id_or_prefix: str) -> dict[str, Any]:
        """Workflow cancellation; the workflow turns it into the DSL's JOURNEY_CANCELLED outcome."""
        async def stop(client: Client) -> dict[str, Any]:
            handle = await self._handle(client, id_or_prefix)
            current = _ordered(await handle.query("status"))
            if current["phase"] != "RUNNING":
                return current
            if "_links" in current and "cancel" not in current["_links"]:
                raise NotCancellable(f"journey {current['journeyName']} declares spec.lifecycle.cancellable: "
                                     f"false; instance {handle.id} cannot be cancelled")
            await handle.cancel()
            return _ordered(await handle.result())

        return self._run(stop)

    def list_instances(self, *, phase: str | None = None, journey: str | None = None,
                       limit: int = 50) -> list[Instance]:
        async def read(client: Client) -> list[Instance]:
            found: list[Instance] = []
            async for execution in client.list_workflows(f"WorkflowType = '{WORKFLOW_NAME}'"):
                memo = await execution.memo()
                instance = _summary(execution.id, memo)
                if (phase and instance.phase != phase) or (journey and instance.journey_name != journey):
                    continue
                found.append(instance)
                if len(found) >= limit:
                    break
            return found

        return self._run(read)

    async def _handle(self, client: Client, id_or_prefix: str) -> WorkflowHandle[Any, Any]:
        """The workflow of an instance id or unique prefix; UnknownInstance as locally."""
        handle = client.get_workflow_handle(id_or_prefix)
        try:
            await handle.describe()
            return handle
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        quoted = id_or_prefix.replace("'", "")
        ids = [e.id async for e in client.list_workflows(
            f"WorkflowType = '{WORKFLOW_NAME}' AND WorkflowId STARTS_WITH '{quoted}'", limit=2)]
        if len(ids) != 1:
            what = "no instance id starts with" if not ids else "several instances start with"
            raise UnknownInstance(f"{what} {id_or_prefix!r} in namespace {self.namespace}")
        return client.get_workflow_handle(ids[0])


ENVELOPE_ORDER = ("journeyId", "journeyName", "statusUrl", "phase", "status", "currentState", "updatedAt", "output",
                  "error", "tags", "attributes", "waitingFor", "activeSteps", "_links")
LINK_ORDER = ("self", "result", "cancel")


def _ordered(envelope: dict[str, Any]) -> dict[str, Any]:
    """Temporal's JSON converter sorts keys; put an envelope back in the order the local runner prints it."""
    def rank(order: tuple[str, ...]) -> Callable[[str], tuple[int, int]]:
        return lambda key: (order.index(key), 0) if key in order else (len(order), 0)

    body = {key: envelope[key] for key in sorted(envelope, key=rank(ENVELOPE_ORDER))}
    if isinstance(body.get("_links"), dict):
        body["_links"] = {rel: body["_links"][rel] for rel in sorted(body["_links"], key=rank(LINK_ORDER))}
    return body


def _summary(workflow_id: str, memo: Mapping[str, Any]) -> Instance:
    from datetime import datetime

    def moment(key: str) -> datetime | None:
        return datetime.fromisoformat(memo[key]) if memo.get(key) else None

    return Instance(id=workflow_id, journey_name=str(memo.get("journeyName", "")), kind="Journey", definition={},
                    phase=str(memo.get("phase", "RUNNING")), current_state=memo.get("currentState"), cursor={},
                    context={}, error=memo.get("error"), created_at=moment("createdAt"),
                    updated_at=moment("updatedAt"))


def _refuse_unsupported(instance: Instance, path: Path) -> None:
    """A journey using a task plugin whose effect a Temporal worker cannot honour is refused before it starts."""
    from jctl.temporal.activities import refusal

    why = refusal(instance.definition)
    if why:
        raise UsageError(f"{path}: {why}", hint="run this journey on the local store (leave out --target)")


def _engine_error(cause: BaseException | None) -> Exception:
    if not isinstance(cause, ApplicationError):
        return StepConflict(f"the step was refused: {cause}")
    extra = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    if cause.type == "InvalidPayload":
        return InvalidPayload(cause.message, list(extra.get("details") or []), extra.get("hint") or "")
    return StepConflict(cause.message, hint=extra.get("hint") or "")

