"""`--target temporal://HOST:PORT/NAMESPACE` for the instance commands and `worker --backend temporal`: the same
rendering as the local store, the work done by jctl.temporal. Without temporalio, a usage error says how to
install it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from jctl.cli import views
from jctl.cli.output import console, print_json
from jctl.documents import event_document, instance_summary, summary_of
from jctl.errors import UsageError

if TYPE_CHECKING:
    from jctl.temporal.client import TemporalTarget

T = TypeVar("T")


def open_target(url: str) -> TemporalTarget:
    if not url.startswith("temporal://"):
        raise UsageError(f"--target {url!r}: unknown scheme", hint="use temporal://HOST:PORT/NAMESPACE")
    from jctl.temporal import require

    require()
    from jctl.temporal.client import TemporalTarget

    return TemporalTarget.from_url(url)


def call(url: str, command: Callable[[TemporalTarget], T]) -> T:
    """Run one command against the cluster, closing the connection before the process exits."""
    with open_target(url) as target:
        return command(target)


def start(url: str, file: Path, input_document: Any, *, mocks: dict[str, Any] | None, detach: bool,
          auto_advance: bool, platform_config: dict[str, Any] | None) -> dict[str, Any]:
    return call(url, lambda target: target.start(file, input_document, mocks=mocks, detach=detach,
                                                 auto_advance=auto_advance, platform_config=platform_config))


def list_instances(url: str, *, phase: str | None, journey: str | None, limit: int, as_json: bool) -> None:
    instances = call(url, lambda target: target.list_instances(phase=phase, journey=journey, limit=limit))
    rows = [instance_summary(summary_of(instance)) for instance in instances]
    if as_json:
        print_json(rows)
    else:
        views.print_instance_table(rows)


def history(url: str, instance_id: str, *, as_json: bool) -> None:
    events = [event_document(event) for event in call(url, lambda target: target.history(instance_id))]
    if as_json:
        print_json(events)
    else:
        views.print_history(events)


def worker(backend: str, address: str | None, namespace: str | None, task_queue: str | None, *,
           db: Path | None = None, secrets: Path | None = None, plugin_config: Path | None = None) -> bool:
    """Run a Temporal worker when asked for (True), else leave the local worker to run (False). Its activities get
    the store at `db` (the local commands' default otherwise) for plugin effects, and the local secrets and plugin
    config, each checked before it connects (a bad file is a usage error, a store it cannot open a failed
    operation)."""
    if backend == "local":
        if address or namespace or task_queue:
            raise UsageError("--address, --namespace and --task-queue belong to --backend temporal")
        return False
    if backend != "temporal":
        raise UsageError(f"unknown --backend {backend!r}", hint="use local or temporal")
    if not address:
        raise UsageError("--backend temporal needs --address HOST:PORT", hint="e.g. --address localhost:7233")
    from jctl.temporal import DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, require

    require()
    import asyncio

    from jctl.secrets import load_secrets
    from jctl.tasks.plugins import load_plugin_config
    from jctl.temporal.activities import WorkerEnvironment
    from jctl.temporal.worker import serve

    environment = WorkerEnvironment(db, load_secrets(secrets), load_plugin_config(plugin_config))
    store = views.guarded(environment.store)  # opened now: a store that cannot be used stops the worker here
    out = console()
    queue = task_queue or DEFAULT_TASK_QUEUE
    space = namespace or DEFAULT_NAMESPACE
    asyncio.run(serve(address, space, queue, environment=environment,
                      ready=lambda: out.print(f"worker polling task queue {queue} on {address} ({space}); plugin "
                                              f"effects go to {store.path}; Ctrl-C stops it", markup=False,
                                              highlight=False)))
    out.print("worker stopped")
    _exit_now()


def _exit_now() -> NoReturn:
    """Leave without the interpreter's teardown (exit handlers still run): the Temporal client's Rust threads can
    outlive the event loop, and finalizing the interpreter under them aborts the process (SIGABRT) now and then,
    after a clean stop."""
    import atexit
    import os
    import sys

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
