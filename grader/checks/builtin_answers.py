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
from grader.checks.selectors import sections, select
from grader.text import cat, text


@dataclass(frozen=True)
class WrittenParams:
    run: str | None = None                 # the text near this run's cells; None: the whole notebook's markdown
    min_chars: int = 20
    keywords: str | None = None            # regex: markdown anywhere that matches also counts
    placeholder: str | None = None         # regex: the starter's "write here" text, never counted
    section: str | None = None             # a task id: only the text of that task's section, its heading excluded


def _section_text(ctx: CheckContext, task: str, ph: re.Pattern[str] | None) -> str | None:
    """The student's text in task ``task``'s section (markdown and long comments, the heading cell and the
    starter's texts left out); None when the notebook has no task headings (a ``.py`` module)."""
    owned = sorted(i for i, t in sections(ctx).items() if t == task)
    if not sections(ctx):
        return None
    if not owned:
        return ""
    parts = [t for i in owned[1:] for t in text_near(ctx, i, i + 1, None, ph)]  # owned[0]: the heading cell
    return "\n\n".join(dict.fromkeys(parts))[:4000]


@check("written_answer", params=WrittenParams)
def written_answer(ctx: CheckContext, p: WrittenParams) -> Outcome:
    """Collects the student's written answer for the instructor (pending review); with ``section``, only that
    task's own text counts, and an empty section is no answer (0 points)."""
    ph = re.compile(p.placeholder, re.I) if p.placeholder else None
    own = _section_text(ctx, p.section, ph) if p.section else None
    if own is not None and len(own.strip()) < p.min_chars:
        return Outcome(False, text("no written answer in this task's section (write it in a markdown cell under the "
                                   "task's heading)", "이 과제 부분에 작성한 답이 없습니다 (과제 제목 아래 마크다운 "
                                   "셀에 답을 쓰세요)"), evidence={"text": own})
    er = select(ctx, p.run)[0] if p.run else None
    start, stop = cells_of_run(ctx, er) if er is not None else (0, len(ctx.notebook.cells))
    kw = re.compile(p.keywords, re.I) if p.keywords else None
    body = own if own is not None else "\n\n".join(text_near(ctx, start, stop, kw, ph))[:4000]
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
    equivalent: bool = False                # a declared tensor's shape up to size-1 dims, dtype within its kind


@check("facts_match", params=FactParams)
def facts_match(ctx: CheckContext, p: FactParams) -> Outcome:
    """What the student's code returned in the kernel (``[[facts]]``) equals what the instructor expects."""
    if len(p.facts) != len(p.expected):
        return Outcome(False, text("facts and expected differ in length (assignment error)",
                                   "facts 와 expected 의 길이가 다릅니다 (과제 설정 오류)"))
    results = [fact_blocks.judge(ctx, fid, want, p.tolerance, p.equivalent)
               for fid, want in zip(p.facts, p.expected, strict=True)]
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

