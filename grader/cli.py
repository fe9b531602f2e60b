"""Command line: ``grader grade`` and ``grader reference``.

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
    g.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: assignment.toml)")
    g.add_argument("--budget", type=float, default=None, help="seconds per submission (default: assignment.toml)")
    r = sub.add_parser("reference", help="re-run the reference solution and write its tolerance bands")
    _common(r)
    r.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3; at least 3 for bands)")
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
    return EXIT_FAILED if failed else EXIT_OK


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``grader`` console script and ``python -m grader``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _grade(args) if args.command == "grade" else _reference(args)
    except UsageError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GraderError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
