"""``grader check``: a student's self-check on a laptop — same checks as the instructor's, shown as a preview.

Subset data by default, a progress line per cell and per epoch (so it never looks hung), a summary in
the assignment's language (its default_lang) with what to fix, an HTML page with the curves.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.assignment import load_assignment
from grader.cli.options import common_options, grade_options, run_limits
from grader.cli.output import maybe_junit
from grader.errors import GraderError, UsageError

if TYPE_CHECKING:
    from grader.execution.warm import WarmSlot

EXIT_OK = 0

_RUNNING = {"ko": "[{n}/{total}] 셀 {index} 실행 중: {line}", "en": "[{n}/{total}] running cell {index}: {line}"}
_EPOCH = {"ko": "      학습 {run} · epoch {epoch} 끝 · 평균 loss {loss:.4f}",
          "en": "      run {run} · epoch {epoch} done · mean loss {loss:.4f}"}
_SLOW = {"ko": "      ({secs:.0f} 초, {status})", "en": "      ({secs:.0f} s, {status})"}
_CELL_STATUS = {"ko": {"ok": "완료", "error": "오류", "timeout": "시간 초과", "kernel_died": "커널 중단"},
                "en": {"ok": "ok", "error": "error", "timeout": "timed out", "kernel_died": "kernel died"}}
_ASSIGNMENT = {"ko": "과제: {id} {version} · {title}", "en": "assignment: {id} {version} · {title}"}
_START = {"ko": "{path} 를 점검합니다 (데이터: {mode}, 커널 시작에 몇 초 걸립니다) ...",
          "en": "checking {path} (data: {mode}; the kernel takes a few seconds to start) ..."}


def add_parsers(sub: Any) -> None:
    """Register ``grader check``."""
    c = sub.add_parser("check", help="self-check your homework before handing it in (a preview of the grade)")
    c.add_argument("submission", type=Path, help="your notebook (.ipynb) or module (.py)")
    common_options(c)
    c.add_argument("--lang", choices=["ko", "en"], default=None,
                   help="language of the summary and page (default: the assignment's default_lang)")
    c.add_argument("--open", action="store_true", help="open the HTML page in a browser when done")
    c.add_argument("--out", type=Path, default=Path("grader-check"),
                   help="folder for the HTML page and result JSON (default: grader-check/)")
    c.add_argument("--quiet", action="store_true", help="no progress lines")
    run_limits(c, "also write JUnit XML")
    c.set_defaults(func=_check)


class _Progress:
    """Prints one line per cell and per finished epoch on stderr."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, ev: dict[str, Any]) -> None:
        kind = ev.get("kind")
        if kind == "cell_start":
            first = next((ln.strip() for ln in str(ev.get("source", "")).splitlines() if ln.strip()), "")
            line = first if len(first) <= 60 else first[:57] + "..."
            msg = _RUNNING[self.lang].format(n=ev["ordinal"], total=ev["total"], index=ev["index"], line=line)
        elif kind == "epoch":
            msg = _EPOCH[self.lang].format(run=ev["run"] + 1, epoch=ev["epoch"], loss=ev["mean_loss"])
        elif kind == "cell_end" and (ev.get("duration_s", 0) >= 5 or ev.get("status") != "ok"):
            status = _CELL_STATUS[self.lang].get(str(ev.get("status")), str(ev.get("status")))
            msg = _SLOW[self.lang].format(secs=ev.get("duration_s", 0), status=status)
        else:
            return
        print(msg, file=sys.stderr, flush=True)


def _import_pages() -> None:
    """The page's modules (matplotlib), imported while the notebook runs."""
    import grader.report.html
    import grader.report.selfcheck  # noqa: F401


def _check(args: argparse.Namespace) -> int:
    if not args.submission.exists():
        raise UsageError(f"no such file: {args.submission}")
    assignment = load_assignment(args.assignment)  # before the pipeline's imports: a wrong id fails fast

    from grader.pipeline import grade_file, prepare_slot, resolve_mode

    lang = args.lang or assignment.default_lang
    opts = grade_options(args, progress=None if args.quiet else _Progress(lang))
    mode = resolve_mode(assignment, opts)
    print(_START[lang].format(path=args.submission, mode=mode), file=sys.stderr, flush=True)
    t0 = time.monotonic()
    # the kernel starts (and imports torch) now, while this process reads the notebook and imports the rest
    try:
        slot: WarmSlot | None = prepare_slot(assignment, opts, warm=True, name=args.submission.stem)
    except GraderError:
        slot = None  # a warm start is an optimization: grade_file starts the kernel itself and reports failures
    pages = threading.Thread(target=_import_pages, name="grader-preload-pages", daemon=True)
    pages.start()
    res = grade_file(args.submission, assignment, opts, slot=slot)  # it closes the slot, used or not
    res.setdefault("timings", {})["wall_s"] = round(time.monotonic() - t0, 2)
    pages.join()
    from grader.reference.baseline import load_baseline
    from grader.report.html import page_name, write_student_page
    from grader.report.selfcheck import preview_notice, summary_text
    from grader.result.build import write_result

    write_result(res, args.out)
    page = write_student_page(res, args.out / page_name(res["submission"]["id"]), load_baseline(assignment, mode),
                              lang, assignment, preview=preview_notice(res, lang))
    print("\n" + _ASSIGNMENT[lang].format(id=assignment.id, version=assignment.version,
                                          title=assignment.title["ko" if lang == "ko" else "en"]), flush=True)
    print(summary_text(res, lang, assignment), flush=True)
    print(("\nHTML 보고서: " if lang == "ko" else "\nHTML report: ") + str(page), flush=True)
    maybe_junit([res], args.junit)
    if args.open:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())
    return EXIT_OK
