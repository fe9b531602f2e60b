"""The proof-of-training flag: a run whose re-trained segments or final loss contradict its record.

The evidence is the grader's own re-execution (``grader.evaluation.replay``); a run marked
``unverified`` there is not used by any check (its training claims earn nothing). Runs that cannot be
re-executed ("not replay-verified") keep their points and are only listed, with the reason.
"""

from __future__ import annotations

from grader.checks.context import CheckContext
from grader.checks.flag import Flag, make_flag
from grader.text import text


def proof_flags(ctx: CheckContext) -> list[Flag]:
    """``training_unverified`` for every run whose proof of training failed."""
    flags = []
    for er in ctx.runs:
        proof = er.proof or {}
        if proof.get("status") == "unverified":
            flags.append(make_flag(
                "training_unverified", text(
                    f"{er.label}: the grader could not confirm that it trained: {proof.get('reason')}; the run's "
                    "training claims earn nothing",
                    f"{er.label}: 채점기가 이 실행의 학습을 확인하지 못했습니다: "
                    f"{proof.get('reason')}. 이 실행의 학습 결과는 점수를 받지 못합니다"),
                untrusted={"runs": [er.run.index]}, run=er.run.index, proof=proof))
    return flags

