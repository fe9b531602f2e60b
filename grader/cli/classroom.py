"""``grader classroom`` (grade inside a GitHub Actions / Classroom 50 run) and ``grader classroom-template``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from grader.assignment import load_assignment
from grader.cli.options import assignment_option, common_options, grade_options, run_limits
from grader.cli.output import maybe_junit
from grader.errors import UsageError

EXIT_OK = 0
EXIT_GRADER_FAILED = 1


def add_parsers(sub: Any) -> None:
    """Register ``classroom`` and ``classroom-template``."""
    c = sub.add_parser("classroom", help="grade in a Classroom 50 or GitHub Actions run: result.json, job summary, "
                                         "annotations (and the legacy reporter payload in $GITHUB_OUTPUT)")
    c.add_argument("submission", type=Path, help="the student's notebook (.ipynb) or module (.py)")
    common_options(c)
    c.add_argument("--out", type=Path, default=Path("reports"), help="folder for the result JSON (default reports/)")
    c.add_argument("--output-name", default="result", help="legacy step output name (default: result)")
    c.add_argument("--result", type=Path, default=None,
                   help="where to write Classroom 50's result.json (default: ./result.json in a Classroom 50 run)")
    run_limits(c, "also write JUnit XML")
    c.set_defaults(func=_classroom)
    t = sub.add_parser(
        "classroom-template",
        help="write what an instructor uploads: a Classroom 50 autograder (default) or an Actions workflow")
    t.add_argument("dest", type=Path, help="empty or new folder to write the template into")
    t.add_argument("--grader-spec", required=True,
                   help="what gets pip-installed, e.g. git+https://github.com/ORG/grader@v0.1.0")
    t.add_argument("--platform", choices=["classroom50", "actions"], default="classroom50",
                   help="classroom50: autograder.py + runtime.json + starter repo; actions: a plain Actions workflow")
    t.add_argument("--gpu-runner", metavar="LABEL", default=None,
                   help="grade on a self-hosted GPU runner (runs-on: [self-hosted, LABEL])")
    assignment_option(t)
    t.set_defaults(func=_template)


def _missing(submission: Path) -> dict[str, Any]:
    from grader.text import text

    name = submission.name
    return {"status": "invalid", "submission": {"id": submission.stem},
            "message": text(f"{name} is not in the submission: keep the notebook's name and submit again",
                            f"제출물에 {name} 이(가) 없습니다: 노트북 이름을 그대로 두고 다시 제출하세요")}


def _classroom(args: argparse.Namespace) -> int:
    """Grade one submission; write result.json (Classroom 50), the job summary and annotations (Actions), the
    legacy payload (plain Actions); print a summary. Exit 0 unless the grader itself failed."""
    from grader.integrations import classroom50 as c50

    env50 = c50.run_env()
    if args.result is not None and env50 is None:
        raise UsageError("--result needs a Classroom 50 run: CLASSROOM, ASSIGNMENT and SUBMISSION_TAG must be set")
    target = args.result or (Path("result.json") if env50 else None)
    if env50 is None or target is None:
        return _grade_and_report(args, None, None)
    c50.write_result_json(target, c50.build_result(None, env50, auto_max=0, lang="en",
                                                   when=c50.submission_instant(Path.cwd()),
                                                   failure="grading did not finish"))
    try:
        return _grade_and_report(args, env50, target)
    except Exception as exc:  # noqa: BLE001 — the grader itself failed: a valid result.json, a non-zero exit
        failure = f"the grader failed: {type(exc).__name__}: {exc}"
        c50.write_result_json(target, c50.build_result(None, env50, auto_max=0, lang="en", failure=failure,
                                                       when=c50.submission_instant(Path.cwd())))
        from grader.integrations.classroom_actions import escape_data

        print(f"::error title=grader::{escape_data(failure)}", flush=True)
        return EXIT_GRADER_FAILED


def _grade_and_report(args: argparse.Namespace, env50: dict[str, str] | None, target: Path | None) -> int:
    from grader.integrations.classroom import classroom_payload, encode_payload, summary_text

    if env50 is None and not args.submission.exists():
        raise UsageError(f"no such file: {args.submission}")
    assignment = load_assignment(args.assignment)
    auto_max = sum(c.points for c in assignment.checks if not c.manual)
    if args.submission.exists():
        from grader.pipeline import grade_file
        from grader.result.build import write_result

        print(f"grading {args.submission} ...", file=sys.stderr, flush=True)
        res = grade_file(args.submission, assignment, grade_options(args))
        write_result(res, args.out)
    else:
        res = _missing(args.submission)
    lang = assignment.default_lang
    payload50 = None
    if env50 and target:
        payload50 = _write_classroom50(res, env50, target, auto_max, assignment, args.budget)
    payload = classroom_payload(res, auto_max=auto_max)
    output = os.environ.get("GITHUB_OUTPUT")
    if output and env50 is None:  # the legacy reporter payload; Classroom 50's runner reads result.json instead
        _append("GITHUB_OUTPUT", output, f"{args.output_name}={encode_payload(payload)}\n")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        _actions_report(res, lang, assignment, payload50, str(args.submission))
    if "checks" in res:
        print(summary_text(res, payload), flush=True)
    if not output and env50 is None:
        print("GITHUB_OUTPUT is not set: the reporter payload was not written", file=sys.stderr)
    if "checks" in res:
        maybe_junit([res], args.junit)
    return EXIT_OK


def _write_classroom50(res: dict[str, Any], env50: dict[str, str], target: Path, auto_max: float, assignment: Any,
                       budget: float | None) -> dict[str, Any]:
    """result.json, and release-body.md next to it (the student's report on the submission's Release)."""
    from grader.integrations import classroom50 as c50
    from grader.integrations.classroom_actions import summary_markdown

    lang = assignment.default_lang
    data = c50.build_result(res, env50, auto_max=auto_max, lang=lang, budget_s=budget,
                            when=c50.submission_instant(Path.cwd()))
    path = c50.write_result_json(target, data)
    c50.write_text_atomic(path.parent / "release-body.md", summary_markdown(res, lang, assignment, data))
    print(f"result.json written to {path}: {data['score']}/{data['max-score']} points", file=sys.stderr)
    return data


def _append(name: str, raw: str, content: str) -> None:
    """Append to a file command ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY) unless its path is unsafe (then say why)."""
    from grader.integrations.classroom_actions import append_file_command

    why = append_file_command(raw, content, Path.cwd())
    if why:
        print(f"${name} ({raw}) not written: {why}", file=sys.stderr)


def _actions_report(res: dict[str, Any], lang: str, assignment: Any, payload50: dict[str, Any] | None,
                    file: str) -> None:
    from grader.integrations.classroom_actions import error_annotations, summary_markdown

    for line in error_annotations(res, lang, file):
        print(line, flush=True)
    raw = os.environ.get("GITHUB_STEP_SUMMARY")
    if raw:
        _append("GITHUB_STEP_SUMMARY", raw, summary_markdown(res, lang, assignment, payload50))


def _template(args: argparse.Namespace) -> int:
    assignment = load_assignment(args.assignment)
    if args.platform == "actions":
        from grader.integrations.classroom import write_template

        if args.gpu_runner:
            raise UsageError("--gpu-runner is for --platform classroom50")
        files = write_template(assignment, args.dest, args.grader_spec)
        print(f"{len(files)} file(s) written to {args.dest}/: push it as a template repository; its workflow "
              "grades every push with `grader classroom` (legacy reporter payload + job summary)")
        return EXIT_OK
    from grader.integrations.classroom50_template import RESERVED_S, write_classroom50

    files = write_classroom50(assignment, args.dest, args.grader_spec, args.gpu_runner)
    print(f"{len(files)} file(s) written to {args.dest}/ — see {args.dest}/INSTRUCTOR.md. Classroom 50 stops a grade "
          f"job after 15 minutes: autograder.py gives the grader what is left after {RESERVED_S} s for the runner "
          "and its own install time, and a run cut short says so in result.json.")
    return EXIT_OK
