"""A Temporal worker for journeys: JourneyWorkflow plus the `jctl.advance` activity (sync, on a thread pool, since
the interpreter and its HTTP client are synchronous). Stops cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from jctl.temporal.activities import JourneyActivities, WorkerEnvironment
from jctl.temporal.workflow import JourneyWorkflow

# jctl's engine modules (and what they import) are deterministic code shared with the activity: imported once,
# not re-imported into every workflow's sandbox
PASSTHROUGH = ("jctl", "jsonschema", "jsonschema_rs", "jsonschema_specifications", "referencing", "rpds", "attrs", "yaml",
               "isodate", "httpx", "httpcore", "rich", "typer", "click")
ACTIVITY_THREADS = 8
# how long a workflow task waits on the queue of the worker that ran the workflow last before any worker may take it
# (the SDK's default is 10 s): a live worker takes its own tasks at once, so this only moves a journey off a worker
# that was killed or crashed sooner (the worker that takes it replays its history)
STICKY_PATIENCE = timedelta(seconds=3)


def build_worker(client: Client, task_queue: str, pool: ThreadPoolExecutor,
                 environment: WorkerEnvironment | None = None) -> Worker:
    """`environment`: the store, secrets and plugin config its activities use (default: the default store, opened
    when a plugin first needs it, and no secrets)."""
    runner = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))
    activities = JourneyActivities(environment)
    return Worker(client, task_queue=task_queue, workflows=[JourneyWorkflow], activities=[activities.advance],
                  activity_executor=pool, workflow_runner=runner, max_concurrent_activities=ACTIVITY_THREADS,
                  sticky_queue_schedule_to_start_timeout=STICKY_PATIENCE)


async def serve(address: str, namespace: str, task_queue: str, ready: Callable[[], None] | None = None,
                environment: WorkerEnvironment | None = None) -> None:
    """Poll `task_queue` until SIGINT or SIGTERM."""
    from jctl.temporal.client import connect

    client = await connect(address, namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as pool:
            async with build_worker(client, task_queue, pool, environment):
                if ready:
                    ready()
                await stop.wait()
    finally:
        if environment is not None:
            environment.close()
