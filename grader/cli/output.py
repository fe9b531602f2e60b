"""What the CLI shows: one-result summaries, the class table, the batch progress bar, JUnit and pages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from grader.report.i18n import SEVERITY_MARKS
from grader.report.i18n import STATUS_MARKS as _MARK


def format_result(res: dict[str, Any]) -> str:
    """Human summary of one result: score, each check with points and reason, flags."""
    s = res["score"]
    pending = f" (+{s['pending_manual']:g} pending review)" if s["pending_manual"] else ""
    lines = [f"== {res['submission']['id']}: {s['auto']:g}/{s['auto_max']:g}{pending}  "
             f"[{res['status']}, data={res['data']['mode']}, device={res.get('device') or '-'}]"]
    if res.get("sandbox"):
        from grader.execution.sandbox import summary

        lines.append(f"   {summary(res['sandbox'])}")
    if res["status"] == "invalid":
        lines.append(f"   ✘ {res['message']}")
    for c in res["checks"]:
        pts = f"{c['points']:g}/{c['max']:g}" if not c["pending"] else f"?/{c['max']:g}"
        lines.append(f"   {_MARK[c['status']]} {c['id']:<22} {pts:>7}  {c['message']}")
        if c.get("warning"):
            lines.append(f"     ⚠ {c['warning']}")
    for f in res["flags"]:
        lines.append(f"   ⚑ {f['id']}: {f['message']}")
    for d in res.get("diagnoses", []):
        mark, message = SEVERITY_MARKS.get(str(d.get("severity")), "ℹ"), (d.get("message") or {}).get("en", "")
        lines.append(f"   {mark} {d.get('id')}: {message}")
    for e in res.get("errors", [])[:5]:
        lines.append(f"   cell index {e['cell_index']}: {e['ename']}: {e['evalue'][:160]}")
    return "\n".join(lines)


def format_table(results: list[dict[str, Any]]) -> str:
    """One line per submission: score per task, status, flags."""
    tasks = sorted({c["task"] for r in results for c in r["checks"]})
    head = f"{'submission':<24} {'score':>9} " + " ".join(f"{t:>7}" for t in tasks) + "  status       flags"
    rows = [head, "-" * len(head)]
    for r in results:
        per = {t: (sum(c["points"] for c in r["checks"] if c["task"] == t),
                   sum(c["max"] for c in r["checks"] if c["task"] == t)) for t in tasks}
        score = f"{r['score']['auto']:g}/{r['score']['auto_max']:g}"
        cells = " ".join(f"{per[t][0]:>3g}/{per[t][1]:<3g}" for t in tasks)
        flags = ",".join(f["id"] for f in r["flags"]) or "-"
        rows.append(f"{r['submission']['id'][:24]:<24} {score:>9} {cells}  {r['status']:<12} {flags}")
    return "\n".join(rows)


def maybe_junit(results: list[dict[str, Any]], path: Path | None) -> None:
    """Write JUnit XML when ``--junit FILE`` was given."""
    if path is None:
        return
    from grader.integrations.junit import write_junit

    write_junit(results, path)
    print(f"JUnit XML written to {path}", file=sys.stderr)


class ProgressBar:
    """tqdm progress bar on stderr fed by the runner's events (the library itself never prints)."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        self.enabled = enabled

    def __call__(self, ev: Any) -> None:
        if not self.enabled:
            if ev.kind in ("done", "failed"):
                r = ev.result or {}
                score = r.get("score", {})
                print(f"[{ev.done + ev.failed}/{ev.total}] {ev.student}: {r.get('status')} "
                      f"{score.get('auto', 0):g}/{score.get('auto_max', 0):g}", file=sys.stderr, flush=True)
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=ev.total, file=sys.stderr, unit="sub", dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}")
        finished = ev.kind in ("done", "failed")
        self.bar.set_postfix_str(f"done={ev.done} failed={ev.failed} remaining={ev.remaining}"
                                 + (f" last={ev.student}" if finished else ""), refresh=not finished)
        if finished:
            self.bar.update(1)
            if ev.kind == "failed":
                self.bar.write(f"grading failed: {ev.student}: {ev.message}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def write_pages(results: list[dict[str, Any]], out: Path, assignment: Any, mode: str, lang: str) -> str:
    """Call the HTML report writer when it is installed; return one line saying what happened."""
    try:
        from grader.report.html import write_reports  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        return f"HTML pages not written: grader.report.html is not available ({exc})"
    from grader.reference.baseline import load_baseline

    paths = write_reports(results, out, load_baseline(assignment, mode), lang, assignment,
                          meta={"assignment": assignment.id, "title": assignment.title, "data_mode": mode})
    return f"{len(paths)} HTML page(s) written to {out}/"
