"""Turn result dicts (``docs/result-schema.md``) into plain view data for the report templates.

Nothing here renders HTML: these helpers pick, group and shorten what the templates show (checks per task,
architecture rows with parameter counts, truncated errors, reference bands per run).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from grader.reference.baseline import run_key
from grader.report import i18n
from grader.text import in_lang

if TYPE_CHECKING:
    from grader.assignment import Assignment

MAX_TRACEBACK = 1500
MAX_TEXT = 600
NOT_RUN = ("invalid", "kernel_died", "timeout")


def truncate(text: str | None, limit: int, keep_end: bool = True) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (keeping the end, where a traceback's error is) and whether it was cut."""
    text = text or ""
    if len(text) <= limit:
        return text, False
    return (text[-limit:] if keep_end else text[:limit]), True


def localized(item: dict[str, Any], key: str, lang: str) -> str:
    """``item[key]`` in ``lang``: from ``item[key + "s"]`` (the bilingual Text every message and warning has),
    else ``item[key]`` itself (a Text, as diagnoses have, or the English string of a result stored by an older
    version); '' when there is none."""
    plural = item.get(key + "s")
    if isinstance(plural, dict):
        said = in_lang(plural, lang)
        if said:
            return said
    value = item.get(key)
    return in_lang(value, lang) if isinstance(value, (str, dict)) else ""


def safe_run_key(run: dict[str, Any]) -> str:
    """``grader.reference.baseline.run_key`` that never raises on an incomplete run entry."""
    try:
        return run_key(run)
    except (KeyError, TypeError, AttributeError):
        return "unknown"


def reference_band(baseline: dict[str, Any] | None, key: str, k: float = 3.0) -> dict[str, list[float]] | None:
    """Per-epoch ``lo``/``hi`` (mean ± k sd) and ``mean`` of the baseline run ``key``, or None."""
    ref = ((baseline or {}).get("runs") or {}).get(key)
    if not ref or not ref.get("epoch_loss_mean"):
        return None
    means, sds = ref["epoch_loss_mean"], ref.get("epoch_loss_sd") or [0.0] * len(ref["epoch_loss_mean"])
    return {"mean": list(means), "lo": [max(m - k * s, 0.0) for m, s in zip(means, sds, strict=False)],
            "hi": [m + k * s for m, s in zip(means, sds, strict=False)]}


def accuracy_band(baseline: dict[str, Any] | None, key: str | None, k: float = 3.0) -> tuple[float, float] | None:
    """Reference accuracy mean ± k sd of the baseline run ``key`` (the assignment's ``[report]
    accuracy_reference``), or None."""
    ref = ((baseline or {}).get("runs") or {}).get(key) if key else None
    if not ref or ref.get("accuracy_mean") is None:
        return None
    mean, sd = float(ref["accuracy_mean"]), float(ref.get("accuracy_sd") or 0.0)
    return mean - k * sd, min(mean + k * sd, 1.0)


def run_label(run: dict[str, Any]) -> str:
    """``#2 SGD · tanh_sgd``: index (1-based, as the check messages count runs), optimizer, run key."""
    opt = (run.get("optimizer") or {}).get("class", "?")
    return f"#{run.get('index', 0) + 1} {opt} · {safe_run_key(run)}"


def _acts_summary(acts: list[str | None]) -> str:
    """``relu ×6`` for a uniform list, else the names joined, ``–`` when empty."""
    if not acts:
        return "–"
    if len(set(acts)) == 1:
        return f"{acts[0] or '?'} ×{len(acts)}"
    return ", ".join(a or "?" for a in acts)


def arch_row(run: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    """One architecture-table row of a run."""
    model, opt = run.get("model") or {}, run.get("optimizer") or {}
    acc = run.get("accuracy") or {}
    acts = model.get("hidden_activations") or []
    return {
        "label": run_label(run), "cell": run.get("cell_index"), "model_class": model.get("class", "?"),
        "hidden": model.get("hidden_layers"), "widths": model.get("widths") or [],
        "summary": model.get("summary", ""), "activations": _acts_summary(acts),
        "params": model.get("params"), "n_linear": len(model.get("layer_kinds") or []),
        "optimizer": opt.get("class", "?"), "lr": (opt.get("hparams") or {}).get("lr"),
        "steps": run.get("steps"), "epochs": run.get("epochs_completed"), "batch": run.get("batch_size"),
        "accuracy": acc.get("value"), "unverified": acc.get("source") not in (None, "grader"),
        "notes": run.get("notes") or [], **proof_view(run, lang),
    }


def proof_view(run: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    """A run's proof of training for the pages: status, and how (segments, deviation) or why not."""
    proof = run.get("proof") or {}
    status = proof.get("status") or "none"
    segs = proof.get("segments") or []
    how = ""
    if status == "verified" and segs:
        how = i18n.strings(lang)["proof_how"].format(n=len(segs), dev=f"{proof.get('max_weight_dev') or 0:.1e}")
    restored = (proof.get("final_weights") or {}).get("text")  # weights written back equal to a recorded state
    parts = (how or (proof.get("reason") or ""), in_lang(restored, lang) if restored else "")
    detail = "; ".join(x for x in parts if x)
    return {"proof": status, "proof_detail": detail}


def proof_summary(result: dict[str, Any]) -> str:
    """The submission's weakest run proof: unverified < not_replay_verified < verified; 'none' without runs."""
    statuses = {(r.get("proof") or {}).get("status") for r in result.get("runs") or [] if r.get("proof")}
    for s in ("unverified", "not_replay_verified", "verified"):
        if s in statuses:
            return s
    return "none"


def diagnoses_view(result: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The training-loop doctor's findings in ``lang``: severity label, short name, message, what to do, lecture."""
    out = []
    for d in result.get("diagnoses") or []:
        severity = str(d.get("severity") or "info")
        out.append({"ref": d.get("ref", ""), "id": d.get("id", ""), "severity": severity,
                    "severity_label": i18n.strings(lang).get(f"sev_{severity}", severity),
                    "name": i18n.diagnosis_name(str(d.get("id")), lang),
                    "message": localized(d, "message", lang), "todo": localized(d, "todo", lang),
                    "lecture": d.get("lecture")})
    return out


def flags_view(result: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The integrity flags in ``lang``: id, short name, message."""
    return [{"id": f.get("id", "?"), "name": i18n.flag_name(str(f.get("id", "?")), lang),
             "message": localized(f, "message", lang)} for f in result.get("flags") or []]


def check_view(check: dict[str, Any], lang: str, result: dict[str, Any], assignment: Assignment) -> dict[str, Any]:
    """A check in ``lang``: message, warning, status, the assignment's hint, the manual override, the findings
    that explain it."""
    override = check.get("override") or None
    status = check.get("status") or ("pending" if check.get("pending") else "fail")
    # a manual check shows the student's words it extracted, so the instructor can judge them here
    quote = (check.get("evidence") or {}).get("text") if check.get("manual") else None
    return {**check, "status": status, "status_label": i18n.status_label(status, lang),
            "message": localized(check, "message", lang), "warning": localized(check, "warning", lang),
            "hint": "" if status == "pass" else assignment.hint(check.get("id", ""), lang), "override": override,
            "quote": quote or "",
            "causes": [{"ref": d.get("ref", ""), "name": i18n.diagnosis_name(str(d.get("id")), lang)}
                       for d in i18n.explained_by(check, result)]}


def tasks_view(result: dict[str, Any], lang: str, assignment: Assignment) -> list[dict[str, Any]]:
    """Checks grouped by task, in rubric order, with per-task points and the assignment's task titles."""
    tasks: dict[str, dict[str, Any]] = {}
    for check in result.get("checks") or []:
        task = check.get("task") or check.get("id", "?").split(".")[0]
        entry = tasks.setdefault(task, {"id": task, "title": assignment.task_title(task, lang), "checks": [],
                                        "points": 0.0, "max": 0.0})
        entry["checks"].append(check_view(check, lang, result, assignment))
        entry["points"] += effective_points(check)
        entry["max"] += float(check.get("max") or 0.0)
    return list(tasks.values())


def effective_points(check: dict[str, Any]) -> float:
    """The check's points, or the instructor's override points when there is one."""
    override = check.get("override")
    if override and override.get("points") is not None:
        return float(override["points"])
    return float(check.get("points") or 0.0)


def total_score(result: dict[str, Any]) -> tuple[float, float]:
    """(points including instructor overrides, manual points still pending)."""
    score = result.get("score") or {}
    total, pending = float(score.get("auto") or 0.0), float(score.get("pending_manual") or 0.0)
    for check in result.get("checks") or []:
        if check.get("override") and check["override"].get("points") is not None:
            total += effective_points(check) - float(check.get("points") or 0.0)
            if check.get("pending"):
                pending -= float(check.get("max") or 0.0)
    return total, max(pending, 0.0)


def late_view(result: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The late policy's outcome (store/late.py) for the pages: due, submitted, days late, penalty, total after
    it, who extended or overrode and why; None when the assignment has no deadline."""
    late = result.get("late")
    if not late:
        return None
    score = result.get("score") or {}
    return {**late, "note": in_lang(late.get("note"), lang) if late.get("note") else "",
            "total": float(score.get("after_penalty", score.get("auto") or 0.0)),
            "days": "?" if late.get("days_late") is None else str(late["days_late"])}


def errors_view(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Notebook errors with tracebacks cut to ``MAX_TRACEBACK`` characters; an error that only follows from an
    earlier one (``follow_on_of``) is folded under it (``follow``) instead of listed on its own."""
    out: list[dict[str, Any]] = []
    for err in result.get("errors") or []:
        tb, cut = truncate(err.get("traceback"), MAX_TRACEBACK)
        evalue, cut_v = truncate(err.get("evalue"), MAX_TEXT, keep_end=False)
        out.append({**err, "traceback": tb, "evalue": evalue, "truncated": cut or cut_v, "follow": []})
    roots = {e["cell_index"]: e for e in out if e.get("follow_on_of") is None}
    for e in out:
        if e.get("follow_on_of") is not None and e["follow_on_of"] in roots:
            roots[e["follow_on_of"]]["follow"].append(e)
    return [e for e in out if e.get("follow_on_of") is None or e["follow_on_of"] not in roots]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _untrusted_accuracy(result: dict[str, Any]) -> set[int]:
    """Runs whose accuracy an integrity flag says is not to be credited (``untrusted.runs`` / ``.accuracy``)."""
    out: set[int] = set()
    for flag in result.get("flags") or []:
        untrusted = flag.get("untrusted") or {}
        for key in ("runs", "accuracy"):
            out.update(i for i in untrusted.get(key) or [] if isinstance(i, int))
    return out


def accuracy_of(result: dict[str, Any], assignment: Assignment) -> float | None:
    """"The" accuracy of a submission: ``evidence.accuracy`` of the assignment's ``[report] accuracy_check``
    (None when that check says its run trained on the test split: not a test accuracy), else the best
    grader-measured accuracy of a run no integrity flag distrusts."""
    check_id = assignment.report.accuracy_check
    check = next((c for c in result.get("checks") or [] if check_id and c.get("id") == check_id), None)
    evidence = (check or {}).get("evidence") or {}
    if evidence.get("trained_on_test"):
        return None
    if _number(evidence.get("accuracy")):
        return float(evidence["accuracy"])
    skip = _untrusted_accuracy(result)
    values = [float(acc["value"]) for r in result.get("runs") or [] for acc in [r.get("accuracy") or {}]
              if acc.get("source") == "grader" and _number(acc.get("value")) and r.get("index") not in skip]
    return max(values) if values else None


def class_rows(results: list[dict[str, Any]], lang: str, assignment: Assignment) -> list[dict[str, Any]]:
    """One row per submission for the class table."""
    rows = []
    for res in results:
        sub, score = res.get("submission") or {}, res.get("score") or {}
        tasks = {t["id"]: t for t in tasks_view(res, lang, assignment)}
        total, pending = total_score(res)
        rows.append({"id": sub.get("id", "?"), "score": total, "max": score.get("max"),
                     "pending": pending, "tasks": tasks,
                     "status": res.get("status", "?"), "status_label": i18n.status_label(res.get("status", "?"), lang),
                     "flags": [f.get("id", "?") for f in res.get("flags") or []],
                     "accuracy": accuracy_of(res, assignment), "proof": proof_summary(res),
                     "late": late_view(res, lang)})
    return rows


def pass_rates(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per check id: how many submissions passed (full points) out of how many were judged."""
    stats: dict[str, list[int]] = {}
    for res in results:
        for check in res.get("checks") or []:
            entry = stats.setdefault(check.get("id", "?"), [0, 0])
            if check.get("status") != "pending" or check.get("override"):
                entry[1] += 1
                entry[0] += int(effective_points(check) >= float(check.get("max") or 0.0) > 0)
    return [{"id": cid, "passed": p, "judged": n, "rate": (p / n if n else None)} for cid, (p, n) in stats.items()]


def common_failures(results: list[dict[str, Any]], lang: str, limit: int = 10) -> list[tuple[str, str, int]]:
    """The most frequent (check id, message in ``lang``) pairs among failed/partial/error checks."""
    counter: Counter[tuple[str, str]] = Counter()
    for res in results:
        for check in res.get("checks") or []:
            if check.get("status") in ("fail", "partial", "error"):
                counter[(check.get("id", "?"), localized(check, "message", lang))] += 1
    return [(cid, msg, n) for (cid, msg), n in counter.most_common(limit)]


def not_run(results: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Submissions whose status says they could not (fully) run."""
    return [{"id": (r.get("submission") or {}).get("id", "?"), "status": r.get("status"),
             "status_label": i18n.status_label(str(r.get("status")), lang),
             "message": truncate(localized(r, "message", lang), MAX_TEXT, keep_end=False)[0]}
            for r in results if r.get("status") in NOT_RUN]


def error_split(results: list[dict[str, Any]], lang: str) -> dict[str, list[dict[str, Any]]]:
    """Submissions with errors, split by the result's ``error_kinds``: ``environment`` (could not run in the
    grading environment: a missing module or library, no data) and ``student`` (errors in their own code); a
    submission with both is in both."""
    out: dict[str, list[dict[str, Any]]] = {"environment": [], "student": []}
    for r in results:
        kinds = r.get("error_kinds") or {}
        for kind in out:
            if kinds.get(kind):
                out[kind].append({"id": (r.get("submission") or {}).get("id", "?"), "n": kinds[kind],
                                  "message": truncate(localized(r, "message", lang), MAX_TEXT, keep_end=False)[0]})
    return out


def fallback_note(result: dict[str, Any], lang: str) -> str:
    """The data fallback's note in ``lang`` ("graded on the full MNIST: cell 7 assumes ..."), '' when none."""
    fb = (result.get("data") or {}).get("fallback") or {}
    return in_lang(fb.get("note"), lang) if fb.get("note") else ""


def sandbox_line(result: dict[str, Any]) -> str:
    """One line saying which sandbox protections were in force ("sandbox: off (why)" when none)."""
    from grader.execution.sandbox import summary

    return summary(result.get("sandbox")).removeprefix("sandbox: ") if result.get("sandbox") else ""
