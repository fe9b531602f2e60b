"""Reusable checks about what the student wrote or their code returned: written answers (pending review), kernel
facts compared with expected values, every run's parameter count (pending review). Parameterised from the toml;
registered beside :mod:`grader.checks.builtin`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from grader.checks import facts as fact_blocks
from grader.checks.context import CheckContext
from grader.checks.notebook import cells_of_run, text_near
from grader.checks.registry import Outcome, check
from grader.checks.selectors import select
from grader.text import cat, text


@dataclass(frozen=True)
class WrittenParams:
    run: str | None = None                 # the text near this run's cells; None: the whole notebook's markdown
    min_chars: int = 20
    keywords: str | None = None            # regex: markdown anywhere that matches also counts
    placeholder: str | None = None         # regex: the starter's "write here" text, never counted


@check("written_answer", params=WrittenParams)
def written_answer(ctx: CheckContext, p: WrittenParams) -> Outcome:
    """Collects the student's written answer for the instructor (always pending review)."""
    er = select(ctx, p.run)[0] if p.run else None
    start, stop = cells_of_run(ctx, er) if er is not None else (0, len(ctx.notebook.cells))
    kw = re.compile(p.keywords, re.I) if p.keywords else None
    ph = re.compile(p.placeholder, re.I) if p.placeholder else None
    body = "\n\n".join(text_near(ctx, start, stop, kw, ph))[:4000]
    if len(body) >= p.min_chars:
        return Outcome(None, text(f"written answer found ({len(body)} characters): pending instructor review",
                                  f"작성한 답을 찾았습니다 ({len(body)}자): 강사 검토 대기"), evidence={"text": body})
    return Outcome(None, text("no written answer found: pending instructor review",
                              "작성한 답을 찾지 못했습니다: 강사 검토 대기 (마크다운 셀에 답을 쓰세요)"),
                   evidence={"text": body})


@dataclass(frozen=True)
class FactParams:
    facts: list[str]                        # fact ids ([[facts]]), each compared with its expected value
    expected: list[Any]                     # one expected value per fact (numbers, lists, strings, booleans)
    tolerance: float = 1e-4                 # absolute, for numbers
    partial: bool = False                   # credit = share of facts that match (else all or nothing)


@check("facts_match", params=FactParams)
def facts_match(ctx: CheckContext, p: FactParams) -> Outcome:
    """What the student's code returned in the kernel (``[[facts]]``) equals what the instructor expects."""
    if len(p.facts) != len(p.expected):
        return Outcome(False, text("facts and expected differ in length (assignment error)",
                                   "facts 와 expected 의 길이가 다릅니다 (과제 설정 오류)"))
    results = [fact_blocks.judge(ctx, fid, want, p.tolerance) for fid, want in zip(p.facts, p.expected, strict=True)]
    good = [r for r in results if r.ok]
    evidence = {"facts": [r.to_dict() for r in results]}
    if len(good) == len(results):
        return Outcome(True, text(f"all {len(results)} call(s) returned what was expected",
                                  f"호출 {len(results)}개가 모두 기대한 값을 돌려주었습니다"), evidence=evidence)
    bad = [r for r in results if not r.ok]
    fraction = len(good) / len(results) if p.partial else 0.0
    msg = cat(text(f"{len(bad)} of {len(results)} call(s) wrong: ", f"호출 {len(results)}개 중 {len(bad)}개가 틀림: "),
              bad[0].why)
    return Outcome(fraction > 0, msg, fraction=fraction if p.partial else None, evidence=evidence)


RunsKind = Literal["all", "trained"]


@dataclass(frozen=True)
class CountParams:
    runs: RunsKind = "trained"


@check("parameter_counts", params=CountParams)
def parameter_counts(ctx: CheckContext, p: CountParams) -> Outcome:
    """Every run's parameter count, for the instructor (pending review, e.g. "compare the CNN with the MLP")."""
    rows = [{"run": er.run.index, "label": er.label, "params": er.arch.n_params if er.arch else None}
            for er in ctx.runs if p.runs == "all" or er.run.epochs_completed >= 1]
    listed = "; ".join(f"{r['label']}: {r['params']:,} parameters" if r["params"] is not None else
                       f"{r['label']}: parameters unknown" for r in rows) or "no run recorded"
    listed_ko = "; ".join(f"{r['label']}: 파라미터 {r['params']:,}개" if r["params"] is not None else
                          f"{r['label']}: 파라미터 수 알 수 없음" for r in rows) or "기록된 실행 없음"
    return Outcome(None, text(f"{listed}: pending instructor review", f"{listed_ko}: 강사 검토 대기"),
                   evidence={"parameters": rows})

