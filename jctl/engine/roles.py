"""What the interpreter's parts use of one another, as protocols: the state executor is handed its interpreter, the
parallel state and compensation their executor or interpreter, and each types its owner by what it uses, so no
part imports the module that creates it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jctl.engine.seams import Seams
    from jctl.engine.transitions import Effects, Snapshot, Transition
    from jctl.tasks.openapi_ops import OperationCatalog


class Machine(Protocol):
    """The interpreter, as the state executor, nested graphs and compensation use it."""

    @property
    def spec(self) -> dict[str, Any]: ...

    @property
    def states(self) -> dict[str, Any]: ...

    @property
    def seams(self) -> Seams: ...

    @property
    def catalog(self) -> OperationCatalog: ...

    @property
    def max_transitions(self) -> int: ...

    @property
    def executor(self) -> Executor: ...

    def failed(self, snap: Snapshot, error: dict[str, Any]) -> Transition: ...

    def take_inline_timer(self) -> bool: ...


class Executor(Protocol):
    """The state executor, as nested graphs and compensation use it."""

    bindings: dict[str, Any]  # extra read-only bindings of expressions; compensation adds its `outcome` for a while

    @property
    def interp(self) -> Machine: ...

    @property
    def spec(self) -> dict[str, Any]: ...

    @property
    def parallel(self) -> Branches: ...

    def begin_transition(self) -> None: ...

    def execute(self, snap: Snapshot, states: dict[str, Any] | None = None, mode: str | None = None) -> Transition: ...

    def evaluate(self, expression: Any, context: dict[str, Any], where: str, **extra: Any) -> Any: ...


class Branches(Protocol):
    """The parallel state, as sync compensation runs its graph through it."""

    def advance(self, record: dict[str, Any], states: dict[str, Any]) -> Effects: ...
