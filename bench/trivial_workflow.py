"""The Temporal side of bench/vs_temporal.py: a workflow that waits for one `decide` signal and returns a summary
(what expense-approval does around its manager step, without expressions)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

NAME = "BenchWaitForDecision"


@workflow.defn(name=NAME)
class WaitForDecision:
    def __init__(self) -> None:
        self.decision: dict[str, Any] | None = None

    @workflow.signal
    def decide(self, decision: dict[str, Any]) -> None:
        self.decision = decision

    @workflow.run
    async def run(self, claim: dict[str, Any]) -> dict[str, Any]:
        await workflow.wait_condition(lambda: self.decision is not None)
        assert self.decision is not None
        return {"status": "EXPENSE_APPROVED", "claimId": claim["claimId"], "approvedBy": self.decision["manager"]}
