"""Command line: ``grader grade``, ``reference``, ``batch``, ``classroom``, ``report``, ``override``, ``export``.

The only place that prints, and the only place that maps errors to exit codes:
0 = every submission graded (whatever the score), 1 = grading itself failed, 2 = usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader import __version__
from grader.assignment import load_assignment
from grader.errors import GraderError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_MARK = {"pass": "✔", "partial": "◐", "fail": "✘", "pending": "…", "error": "!"}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", choices=["subset", "full"], default=None,
                   help="MNIST to serve to submissions: the embedded 6k/1k subset or the full 60k/10k "
                        "(default: the assignment's default_data)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with the full MNIST raw files (.gz or not); default $GRADER_MNIST_DIR")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto: the student's code decides; cpu: hide GPUs; cuda: require a GPU")
    p.add_argument("--assignment", type=Path, default=None, help="assignment folder (default: dnn2_mnist)")


def _run_limits(p: argparse.ArgumentParser, junit_help: str) -> None:
    """Options shared by every command that grades: time limits and the JUnit file."""
    p.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: assignment.toml)")
    p.add_argument("--budget", type=float, default=None, help="seconds per submission (default: assignment.toml)")
    p.add_argument("--junit", type=Path, default=None, help=junit_help)


def _classroom_parser(sub: Any) -> None:
    c = sub.add_parser("classroom", help="grade for GitHub Classroom: write the reporter payload to $GITHUB_OUTPUT")
    c.add_argument("submission", type=Path, help="the student's notebook (.ipynb) or module (.py)")
    _common(c)
    c.add_argument("--out", type=Path, default=Path("reports"), help="folder for the result JSON (default reports/)")
    c.add_argument("--output-name", default="result", help="step output name (default: result)")
    _run_limits(c, "also write JUnit XML")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="grader", description="Grade PyTorch homework notebooks.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade one or more .ipynb/.py submissions")
    g.add_argument("files", nargs="+", type=Path, help="submission files (.ipynb or .py)")
    _common(g)
    g.add_argument("--out", type=Path, default=Path("reports"), help="folder for result JSON (default: reports/)")
    g.add_argument("--json", action="store_true", help="print the result JSON instead of the summary")
    _run_limits(g, "also write JUnit XML (one testsuite per submission)")
    r = sub.add_parser("reference", help="re-run the reference solution and write its tolerance bands")
    _common(r)
    r.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3; at least 3 for bands)")
    b = sub.add_parser("batch", help="grade a whole class (folder, roster clone or .zip), resumable")
    b.add_argument("submissions", type=Path, help="folder of notebooks/modules, of per-student folders, or a .zip")
    _common(b)
    b.add_argument("--jobs", type=int, default=None,
                   help="submissions graded at once (default: one per CPU core; at most 8, or 16 per GPU)")
    b.add_argument("--out", type=Path, default=Path("reports"), help="results, pages, gradebook (default reports/)")
    b.add_argument("--lang", choices=["ko", "en"], default=None, help="language of the pages")
    b.add_argument("--force", action="store_true", help="re-grade submissions already in the gradebook")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    _run_limits(b, "also write JUnit XML (one testsuite per student)")
    _classroom_parser(sub)
    rp = sub.add_parser("report", help="re-render every page from the stored results (no re-grading)")
    rp.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    rp.add_argument("--lang", choices=["ko", "en"], default=None, help="language of the pages")
    rp.add_argument("--data", choices=["subset", "full"], default=None, help="baseline to show (default: assignment)")
    rp.add_argument("--assignment", type=Path, default=None, help="assignment folder (default: dnn2_mnist)")
    o = sub.add_parser("override", help="set an instructor's points for one check of one student")
    o.add_argument("student")
    o.add_argument("check_id")
    o.add_argument("points", type=float)
    o.add_argument("--comment", required=True, help="why (shown to the student)")
    o.add_argument("--author", default=None, help="who (default: $USER)")
    o.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    e = sub.add_parser("export", help="export the gradebook (latest result per student, overrides applied)")
    e.add_argument("format", choices=["csv", "canvas"])
    e.add_argument("--out", type=Path, default=None, help="CSV file to write (default: next to the gradebook)")
    e.add_argument("--gradebook", type=Path, default=Path("reports/gradebook.sqlite"))
    e.add_argument("--assignment", type=Path, default=None, help="assignment folder (default: dnn2_mnist)")
    e.add_argument("--canvas-id", default=None, help="Canvas assignment id for the column title")
    return parser


def format_result(res: dict[str, Any]) -> str:
    """Human summary of one result: score, each check with points and reason, flags."""
    s = res["score"]
    pending = f" (+{s['pending_manual']:g} pending review)" if s["pending_manual"] else ""
    lines = [f"== {res['submission']['id']}: {s['auto']:g}/{s['auto_max']:g}{pending}  "
             f"[{res['status']}, data={res['data']['mode']}, device={res.get('device') or '-'}]"]
    if res["status"] == "invalid":
        lines.append(f"   ✘ {res['message']}")
    for c in res["checks"]:
        pts = f"{c['points']:g}/{c['max']:g}" if not c["pending"] else f"?/{c['max']:g}"
        lines.append(f"   {_MARK[c['status']]} {c['id']:<22} {pts:>7}  {c['message']}")
        if c.get("warning"):
            lines.append(f"     ⚠ {c['warning']}")
    for f in res["flags"]:
        lines.append(f"   ⚑ {f['id']}: {f['message']}")
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


def _grade(args: argparse.Namespace) -> int:
    from grader.pipeline import GradeOptions, grade_file
    from grader.result.build import write_result

    missing = [str(p) for p in args.files if not p.exists()]
    if missing:  # a mistyped path is the user's error, not a student's invalid submission
        raise UsageError(f"no such file: {', '.join(missing)}")
    assignment = load_assignment(args.assignment)
    opts = GradeOptions(data=args.data, data_dir=args.data_dir, device=args.device,
                        cell_timeout_s=args.cell_timeout, budget_s=args.budget)
    results, failed = [], False
    for path in args.files:
        print(f"grading {path} ...", file=sys.stderr, flush=True)
        try:
            res = grade_file(path, assignment, opts)
        except UsageError:
            raise
        except GraderError as exc:  # one submission's failure never stops the others
            print(f"error: {path}: {exc}", file=sys.stderr)
            failed = True
            continue
        write_result(res, args.out)
        results.append(res)
        if not args.json:
            print(format_result(res), flush=True)
    if args.json:
        print(json.dumps(results, indent=1, ensure_ascii=False))
    elif len(results) > 1:
        print("\n" + format_table(results))
    if results and not args.json:
        print(f"\nresults written to {args.out}/", file=sys.stderr)
    _maybe_junit(results, args.junit)
    return EXIT_FAILED if failed else EXIT_OK


def _maybe_junit(results: list[dict[str, Any]], path: Path | None) -> None:
    """Write JUnit XML when ``--junit FILE`` was given."""
    if path is None:
        return
    from grader.integrations.junit import write_junit

    write_junit(results, path)
    print(f"JUnit XML written to {path}", file=sys.stderr)


def _classroom(args: argparse.Namespace) -> int:
    """Grade one submission, append ``result=<base64 JSON>`` to $GITHUB_OUTPUT, print a summary; exit 0."""
    import os

    from grader.integrations.classroom import append_github_output, classroom_payload, summary_text
    from grader.pipeline import GradeOptions, grade_file
    from grader.result.build import write_result

    if not args.submission.exists():
        raise UsageError(f"no such file: {args.submission}")
    assignment = load_assignment(args.assignment)
    opts = GradeOptions(data=args.data, data_dir=args.data_dir, device=args.device,
                        cell_timeout_s=args.cell_timeout, budget_s=args.budget)
    print(f"grading {args.submission} ...", file=sys.stderr, flush=True)
    res = grade_file(args.submission, assignment, opts)
    write_result(res, args.out)
    payload = classroom_payload(res, auto_max=sum(c.points for c in assignment.checks if not c.manual))
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        append_github_output(Path(target), payload, args.output_name)
    print(summary_text(res, payload), flush=True)
    if not target:
        print("GITHUB_OUTPUT is not set: the reporter payload was not written", file=sys.stderr)
    _maybe_junit([res], args.junit)
    return EXIT_OK


def _reference(args: argparse.Namespace) -> int:
    from grader.pipeline import GradeOptions, grade_file
    from grader.reference.baseline import build_reference

    if args.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    assignment = load_assignment(args.assignment)
    mode = args.data or assignment.default_data
    seeds = [assignment.seed + i for i in range(args.seeds)]

    def grade(path: Path, seed: int) -> dict[str, Any]:
        print(f"reference run, seed {seed} ...", file=sys.stderr, flush=True)
        opts = GradeOptions(data=mode, data_dir=args.data_dir, device=args.device, seed=seed,
                            env={"GRADER_SEED": str(seed)})
        return grade_file(path, assignment, opts)

    path = build_reference(assignment, mode, seeds, grade)
    print(f"baseline written to {path}")
    return EXIT_OK


class _Bar:
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


def _write_pages(results: list[dict[str, Any]], out: Path, assignment: Any, mode: str, lang: str) -> str:
    """Call the HTML report writer when it is installed; return one line saying what happened."""
    try:
        from grader.report.html import write_reports  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        return f"HTML pages not written: grader.report.html is not available ({exc})"
    from grader.reference.baseline import load_baseline

    paths = write_reports(results, out, load_baseline(assignment, mode), lang=lang,
                          meta={"assignment": assignment.id, "title": assignment.title, "data_mode": mode})
    return f"{len(paths)} HTML page(s) written to {out}/"


def _batch(args: argparse.Namespace) -> int:
    from grader.batch.discover import discover
    from grader.batch.runner import run_batch
    from grader.pipeline import GradeOptions, resolve_mode
    from grader.store.gradebook import Gradebook

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    assignment = load_assignment(args.assignment)
    opts = GradeOptions(data=args.data, data_dir=args.data_dir, device=args.device,
                        cell_timeout_s=args.cell_timeout, budget_s=args.budget)
    mode = resolve_mode(assignment, opts)
    gb_path = args.out / "gradebook.sqlite"
    with discover(args.submissions) as found:
        problems = [e for e in found.entries if e.problem]
        print(f"{len(found.entries)} student(s) found in {args.submissions}"
              + (f", {len(problems)} with a problem" if problems else ""), file=sys.stderr, flush=True)
        for e in problems:
            print(f"  ✘ {e.student}: {e.problem}", file=sys.stderr)
        bar = _Bar(enabled=not args.no_progress)
        try:
            summary = run_batch(found.entries, assignment, opts, args.out, gradebook=gb_path, jobs=args.jobs,
                                force=args.force, progress=bar)
        except KeyboardInterrupt:
            bar.close()
            print("grader: interrupted; finished results are in the gradebook, run the same command again to "
                  "resume", file=sys.stderr)
            return 130
        finally:
            bar.close()
    if summary.skipped:
        print(f"{len(summary.skipped)} already graded (kept; --force re-grades)", file=sys.stderr)
    with Gradebook(gb_path) as gb:
        results = gb.latest_results()
    print(format_table(results))
    _maybe_junit(results, args.junit)
    print(f"\ngraded {len(summary.results)}, failed {len(summary.failed)}, skipped {len(summary.skipped)} "
          f"in {summary.wall_s:.0f} s; gradebook {gb_path}", file=sys.stderr)
    print(_write_pages(results, args.out, assignment, mode, args.lang or assignment.default_lang), file=sys.stderr)
    return EXIT_FAILED if summary.failed else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from grader.result.build import write_result
    from grader.store.gradebook import Gradebook

    assignment = load_assignment(args.assignment)
    with Gradebook(args.out / "gradebook.sqlite", create=False) as gb:
        results = gb.latest_results()
    for r in results:
        write_result(r, args.out)
    mode = args.data or (results[0]["data"]["mode"] if results else assignment.default_data)
    print(format_table(results))
    print(_write_pages(results, args.out, assignment, mode, args.lang or assignment.default_lang), file=sys.stderr)
    return EXIT_OK


def _override(args: argparse.Namespace) -> int:
    import getpass

    from grader.store.gradebook import Gradebook

    author = args.author or getpass.getuser()
    with Gradebook(args.out / "gradebook.sqlite", create=False) as gb:
        gb.add_override(args.student, args.check_id, args.points, args.comment, author)
        result = next(r for r in gb.latest_results() if r["submission"]["id"] == args.student)
    print(f"{args.student} {args.check_id} = {args.points:g} (by {author}); "
          f"score now {result['score']['auto']:g}/{result['score']['auto_max']:g}")
    print("run `grader report` to re-render the pages", file=sys.stderr)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from grader.store.gradebook import Gradebook, export_canvas, export_csv

    with Gradebook(args.gradebook, create=False) as gb:
        results = gb.latest_results()
    default = args.gradebook.parent / ("grades.csv" if args.format == "csv" else "canvas.csv")
    out = args.out or default
    if args.format == "csv":
        export_csv(results, out)
    else:
        assignment = load_assignment(args.assignment)
        export_canvas(results, out, assignment.title, args.canvas_id)
    print(f"{len(results)} student(s) exported to {out}")
    return EXIT_OK


_COMMANDS = {"grade": _grade, "reference": _reference, "batch": _batch, "report": _report,
             "override": _override, "export": _export, "classroom": _classroom}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``grader`` console script and ``python -m grader``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GraderError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
