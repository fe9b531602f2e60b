"""``grader grade``, ``reference`` and ``batch``: the commands that run submissions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grader.assignment import load_assignment
from grader.cli.options import common_options, grade_options, run_limits
from grader.cli.output import ProgressBar, format_result, format_table, maybe_junit, write_pages
from grader.errors import GraderError, UsageError

EXIT_OK, EXIT_FAILED = 0, 1


def add_parsers(sub: Any) -> None:
    """Register this module's sub-commands."""

    g = sub.add_parser("grade", help="grade one or more .ipynb/.py submissions")
    g.add_argument("files", nargs="+", type=Path, help="submission files (.ipynb or .py)")
    common_options(g)
    g.add_argument("--out", type=Path, default=Path("reports"), help="folder for result JSON (default: reports/)")
    g.add_argument("--json", action="store_true", help="print the result JSON instead of the summary")
    run_limits(g, "also write JUnit XML (one testsuite per submission)")
    g.set_defaults(func=_grade)
    r = sub.add_parser("reference", help="re-run the reference solution and write its tolerance bands")
    common_options(r)
    r.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3; at least 3 for bands)")
    r.add_argument("--solution", type=Path, default=None,
                   help="the instructor's solution notebook (default: `solution` in assignment.toml)")
    r.set_defaults(func=_reference)
    b = sub.add_parser("batch", help="grade a whole class (folder, roster clone or .zip), resumable")
    b.add_argument("submissions", type=Path, help="folder of notebooks/modules, of per-student folders, or a .zip")
    common_options(b)
    b.add_argument("--jobs", type=int, default=None,
                   help="submissions graded at once (default: one per CPU core, at most 8; with GPUs also at "
                        "most 16 per GPU and as many as GPU memory allows, see [gpu] in assignment.toml)")
    b.add_argument("--mps", choices=["auto", "on", "off"], default=None,
                   help="CUDA MPS for GPU batches: auto (default: started when possible, else off with the "
                        "reason), on (refuse when it cannot start), off")
    b.add_argument("--warm", action=argparse.BooleanOptionalAction, default=None,
                   help="each worker starts its next submission's kernel (torch imported) while the current one "
                        "runs (default: when --jobs leaves a CPU core free; --no-warm: never)")
    b.add_argument("--out", type=Path, default=Path("reports"), help="results, pages, gradebook (default reports/)")
    b.add_argument("--gradebook", type=Path, default=None,
                   help="the gradebook (default: OUT/gradebook.sqlite); one gradebook can hold a whole course: "
                        "grade each assignment into it and `grader report` renders the course page")
    b.add_argument("--lang", choices=["ko", "en"], default=None, help="language of the pages")
    b.add_argument("--force", action="store_true", help="re-grade submissions already in the gradebook")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local: worker processes on this machine (default); ray: one task per submission on a "
                        "Ray cluster (pip install 'grader[ray]')")
    b.add_argument("--address", default=None,
                   help="with --backend ray: the cluster to join, e.g. HEAD:6379 (default: start a local one)")
    b.add_argument("--gpus-per-task", type=float, default=None,
                   help="with --backend ray: GPU fraction per submission (default 1/16 with GPUs, else 0)")
    run_limits(b, "also write JUnit XML (one testsuite per student)")
    b.add_argument("--times", type=Path, default=None, metavar="FILE.csv",
                   help="submission times (student,submitted_at with a UTC offset, e.g. the LMS export) for the "
                        "[deadline] late policy; never a commit date or file time")
    b.set_defaults(func=_batch)


def _grade(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.files if not p.exists()]
    if missing:  # a mistyped path is the user's error, not a student's invalid submission
        raise UsageError(f"no such file: {', '.join(missing)}")
    assignment = load_assignment(args.assignment)  # before the pipeline's imports: a wrong id fails fast

    from grader.pipeline import grade_file
    from grader.result.build import write_result

    opts = grade_options(args)
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
    maybe_junit(results, args.junit)
    return EXIT_FAILED if failed else EXIT_OK


def _reference(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    assignment = load_assignment(args.assignment)

    from grader.pipeline import grade_file, resolve_mode
    from grader.reference.baseline import build_reference

    mode = resolve_mode(assignment, grade_options(args))
    seeds = [assignment.seed + i for i in range(args.seeds)]

    def grade(path: Path, seed: int) -> dict[str, Any]:
        print(f"reference run, seed {seed} ...", file=sys.stderr, flush=True)
        opts = grade_options(args, data=mode, seed=seed, env={"GRADER_SEED": str(seed)})
        return grade_file(path, assignment, opts)

    path = build_reference(assignment, mode, seeds, grade, solution=args.solution)
    print(f"baseline written to {path}")
    return EXIT_OK


def _batch_backend(args: argparse.Namespace) -> Any:
    """``run_batch`` of the chosen backend with its backend-only options bound (UsageError for a misfit)."""
    from functools import partial

    if args.backend == "local":
        if args.address is not None or args.gpus_per_task is not None:
            raise UsageError("--address and --gpus-per-task need --backend ray")
        from grader.batch.runner import run_batch

        return partial(run_batch, jobs=args.jobs, mps=args.mps or "auto", warm=args.warm,
                       announce=lambda line: print(line, file=sys.stderr, flush=True))
    if args.jobs is not None or args.mps is not None:
        raise UsageError("--jobs and --mps are for --backend local; Ray places one task per CPU "
                         "(see --gpus-per-task)")
    from grader.batch.ray_backend import import_ray, run_batch_ray

    import_ray()  # before discovery: a missing Ray is a usage error at once
    return partial(run_batch_ray, address=args.address, gpus_per_task=args.gpus_per_task)


def _gpu_line(gpu: dict[str, Any]) -> str:
    """The batch's GPU plan in one line for the final summary (the full line is printed at the start)."""
    devices = gpu.get("devices") or []
    if not devices:
        return f"GPU: none in use; {gpu['jobs']} at once"
    return (f"GPU: {len(devices)} × {devices[0]['name']}, {gpu['jobs']} at once, MPS "
            f"{'on' if gpu['mps'] else 'off'} ({gpu['mps_reason']}), memory guard {gpu['memory_guard']}")


def _batch(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    assignment = load_assignment(args.assignment)
    run = _batch_backend(args)

    from grader.batch.discover import discover
    from grader.execution.sandbox import batch_mode
    from grader.pipeline import resolve_mode
    from grader.store.gradebook import Gradebook

    opts = grade_options(args, sandbox=batch_mode(args.sandbox))  # other people's code: sandbox required
    mode = resolve_mode(assignment, opts)
    gb_path = args.gradebook or args.out / "gradebook.sqlite"
    with discover(args.submissions) as found:
        problems = [e for e in found.entries if e.problem]
        print(f"{len(found.entries)} student(s) found in {args.submissions}"
              + (f", {len(problems)} with a problem" if problems else ""), file=sys.stderr, flush=True)
        for e in problems:
            print(f"  ✘ {e.student}: {e.problem}", file=sys.stderr)
        for why in found.refused:
            print(f"  ✘ refused archive entry: {why}", file=sys.stderr)
        print(record_submission_times(found.entries, args.times, assignment, gb_path), file=sys.stderr)
        bar = ProgressBar(enabled=not args.no_progress)
        try:
            summary = run(found.entries, assignment, opts, args.out, gradebook=gb_path, force=args.force,
                          progress=bar)
        except KeyboardInterrupt:
            bar.close()
            print("grader: interrupted; finished results are in the gradebook, run the same command again to "
                  "resume", file=sys.stderr)
            return 130
        finally:
            bar.close()
        print(class_similarity(found.entries, assignment, gb_path, args.out, args.lang or assignment.default_lang),
              file=sys.stderr)
    if summary.skipped:
        print(f"{len(summary.skipped)} already graded (kept; --force re-grades)", file=sys.stderr)
    with Gradebook(gb_path) as gb:
        gb.deadlines[assignment.id] = assignment.deadline  # --assignment PATH: its [deadline], not the installed one
        results = gb.latest_results(assignment.id)  # a course gradebook holds other assignments too
    print(format_table(results))
    maybe_junit(results, args.junit)
    print(f"\ngraded {len(summary.results)}, failed {len(summary.failed)}, skipped {len(summary.skipped)} "
          f"in {summary.wall_s:.0f} s; gradebook {gb_path}", file=sys.stderr)
    if getattr(summary, "gpu", None):
        print(_gpu_line(summary.gpu), file=sys.stderr)
    print(write_pages(results, args.out, assignment, mode, args.lang or assignment.default_lang), file=sys.stderr)
    return EXIT_FAILED if summary.failed else EXIT_OK


def record_submission_times(entries: list[Any], times: Path | None, assignment: Any, gb_path: Path) -> str:
    """The times file (checked against the students found: any bad line stops before anything is graded) and
    Canvas ``LATE`` file names → ``submitted_at`` events; one line saying what the late policy will use."""
    from grader.store.gradebook import Gradebook, now
    from grader.store.late import canvas_marks, read_times, record_times

    found = read_times(times, {e.student for e in entries}) if times is not None else {}
    marks = {s: m for s, m in canvas_marks({e.student: e.source for e in entries}).items() if s not in found}
    if found or marks:
        with Gradebook(gb_path) as gb:
            added = record_times(gb.db, now(), assignment.id, {**marks, **found})
    else:
        added = 0
    if assignment.deadline is None:
        return "no [deadline] in the assignment: no late penalty" + (" (the times are kept)" if added else "")
    unknown = len({e.student for e in entries if not e.problem} - set(found))
    return (f"deadline {assignment.deadline.due.isoformat()}: {len(found)} submission time(s) from "
            f"{times or 'no times file'}, {added} new; {unknown} student(s) without a trusted time (no penalty"
            + (f", {len(marks)} marked LATE by Canvas" if marks else "") + ")")


def class_similarity(entries: list[Any], assignment: Any, gb_path: Path, out: Path, lang: str) -> str:
    """``out/similarity.json`` and the side-by-side pages of the listed pairs (the submissions are still on
    disk here: an extracted archive is removed when discovery ends); one line saying what was found."""
    from grader.report.similarity import write_pair_pages
    from grader.store.gradebook import Gradebook
    from grader.store.similarity import similarity, write_similarity

    files = {e.student: e.path for e in entries if e.path is not None and not e.problem}
    if len(files) < 2:
        return "similarity: fewer than two submissions, nothing compared"
    with Gradebook(gb_path) as gb:
        gb.deadlines[assignment.id] = assignment.deadline
        results = {r["submission"]["id"]: r for r in gb.latest_results(assignment.id)}
    report = similarity(files, results, assignment.root / "starter.ipynb")
    path = write_similarity(report, out)
    write_pair_pages(report, out, lang)
    flagged = [p for p in report["pairs"] if p["flagged"]]
    return (f"similarity ({report['method']}): {len(report['pairs'])} pair(s), {len(flagged)} flagged"
            + (f", top {flagged[0]['a']} · {flagged[0]['b']} {flagged[0]['score']:.2f}" if flagged else "")
            + f"; {path}")
