"""JUnit XML for generic CI: one ``<testsuite>`` per submission, one ``<testcase>`` per check.

Format (pytest's junitxml): ``<testsuites><testsuite name tests failures errors skipped time>``
with ``<properties>`` (score, max_score) and ``<testcase classname name time file>`` children that
may hold ``<failure message type>``, ``<error message type>`` or ``<skipped message>``. Messages are the
result's English ones (``messages.en``, else ``message``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from grader.report.view import localized

#: result statuses where grading did not run to the end (shown as a suite-level error case)
_BROKEN = ("invalid", "timeout", "kernel_died")


def _seconds(value: Any) -> str:
    """Plain decimal seconds (never exponent notation)."""
    return f"{float(value or 0.0):.3f}"


def _outcome(check: dict[str, Any]) -> str:
    """pass | failure | error | skipped for one check."""
    status = check.get("status")
    if check.get("pending") or status == "pending":
        return "skipped"
    if status == "error":
        return "error"
    if status in ("fail", "partial"):
        return "failure"
    return "pass"


def _testcase(suite: ET.Element, sub_id: str, path: str, check: dict[str, Any]) -> str:
    """Append one check's ``<testcase>``; return its outcome."""
    case = ET.SubElement(suite, "testcase", {"classname": sub_id, "name": check["id"], "time": _seconds(0),
                                             "file": path})
    outcome = _outcome(check)
    message = localized(check, "message", "en")
    warning = localized(check, "warning", "en")
    points = f"{check.get('points', 0):g}/{check.get('max', 0):g} points"
    if outcome == "failure":
        el = ET.SubElement(case, "failure", {"message": message, "type": "fail"})
        el.text = f"{check.get('status')}: {points}\n{message}"
    elif outcome == "error":
        el = ET.SubElement(case, "error", {"message": message, "type": "error"})
        el.text = f"the check itself failed: {points}\n{message}"
    elif outcome == "skipped":
        ET.SubElement(case, "skipped", {"message": message})
    if warning:
        ET.SubElement(case, "system-out").text = f"warning: {warning}"
    return outcome


def _suite_output(result: dict[str, Any]) -> str:
    """Status, score and integrity flags as the suite's ``<system-out>`` text."""
    s = result.get("score", {})
    lines = [f"status: {result.get('status')}",
             f"score: {s.get('auto', 0):g}/{s.get('auto_max', 0):g} "
             f"(+{s.get('pending_manual', 0):g} pending instructor review)"]
    if result.get("message"):
        lines.append(f"message: {result['message']}")
    lines += [f"flag {f['id']}: {localized(f, 'message', 'en')}" for f in result.get("flags", [])]
    return "\n".join(lines)


def testsuite(result: dict[str, Any]) -> ET.Element:
    """The ``<testsuite>`` element of one result dict (schema_version 1)."""
    sub = result["submission"]
    sub_id, path = str(sub["id"]), str(sub.get("path") or "")
    suite = ET.Element("testsuite", {"name": sub_id})
    props = ET.SubElement(suite, "properties")
    score = result.get("score", {})
    for name, value in (("score", score.get("auto", 0)), ("max_score", score.get("auto_max", 0)),
                        ("pending_manual", score.get("pending_manual", 0)), ("status", result.get("status"))):
        ET.SubElement(props, "property", {"name": name, "value": f"{value:g}" if isinstance(value, float | int)
                                          else str(value)})
    counts = {"pass": 0, "failure": 0, "error": 0, "skipped": 0}
    for check in result.get("checks", []):
        counts[_testcase(suite, sub_id, path, check)] += 1
    if result.get("status") in _BROKEN:
        case = ET.SubElement(suite, "testcase", {"classname": sub_id, "name": "submission", "time": _seconds(0),
                                                 "file": path})
        msg = str(result.get("message") or result.get("status"))
        ET.SubElement(case, "error", {"message": msg, "type": str(result.get("status"))}).text = msg
        counts["error"] += 1
    ET.SubElement(suite, "system-out").text = _suite_output(result)
    total = sum(counts.values())
    suite.attrib.update({"tests": str(total), "failures": str(counts["failure"]), "errors": str(counts["error"]),
                         "skipped": str(counts["skipped"]),
                         "time": _seconds(result.get("timings", {}).get("total_s"))})
    return suite


def junit_xml(results: list[dict[str, Any]]) -> str:
    """JUnit XML text (``<testsuites>``) for result dicts, one suite per submission."""
    root = ET.Element("testsuites", {"name": "grader"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for result in results:
        suite = testsuite(result)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.attrib[key])
        seconds += float(suite.attrib["time"])
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.attrib["time"] = _seconds(seconds)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(results: list[dict[str, Any]], path: Path) -> Path:
    """Write :func:`junit_xml` to ``path`` atomically; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(junit_xml(results), encoding="utf-8")
    tmp.replace(path)
    return path
