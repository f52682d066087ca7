"""Running journeys on a Temporal cluster: a generic JourneyWorkflow drives jctl's own interpreter (see README
"Scaling out"). `temporalio` is an optional extra; `require()` says how to install it."""

from __future__ import annotations

DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "jctl-journeys"
INSTALL_HINT = "install the Temporal extra: pip install 'jctl[temporal]'"


def require() -> None:
    """A usage error (exit 2) naming the extra when temporalio is not installed."""
    import importlib.util

    from jctl.errors import UsageError

    if importlib.util.find_spec("temporalio") is None:
        raise UsageError("the Temporal backend needs the `temporalio` package, which is not installed",
                         hint=INSTALL_HINT)
