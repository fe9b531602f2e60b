"""Similarity across a class after a batch: ``<out>/similarity.json``. It never changes a score.

Code: the notebooks' code cells as one source text (outputs and Markdown out; IPython ``!``/``%`` lines out),
fingerprinted with ``copydetect`` (winnowing over Pygments tokens, so renamed variables still match) with the
assignment's starter notebook as boilerplate that never counts. copydetect rather than Dolos
(``@dodona/dolos-lib``): both score a renamed copy 1.0 and an independent solution about a third on small PyTorch
MLPs (../shared/notes/ta-workflow.md), but copydetect is a pip package that runs in this process, while Dolos
needs Node and an npm install in CI plus a bridge process; copydetect is quieter (last release 2024-03) and is an
optional extra (``similarity``): without it the code score is absent and only the training evidence is used.

Starter-heavy PyTorch code is alike anyway, so a pair is flagged relative to the class: its code score is far
above the class's distribution (robust z-score over every pair ≥ ``Z_FLAG``, and at least ``MIN_SCORE``), or
nearly all of it (``NEAR_COPY``) is shared outside the starter (a small class has too few pairs for a z), or it
carries evidence only the grader sees: an identical per-step loss sequence of runs with the same architecture
(same code and seed, or copied outputs), or identical weights fingerprints (the guard's ``weights`` events).
"""

from __future__ import annotations

import io
import json
import statistics
from itertools import combinations
from pathlib import Path
from typing import Any

Z_FLAG = 3.5
MIN_SCORE = 0.5
NEAR_COPY = 0.95  # this much of the code outside the starter in common is flagged whatever the class does
MIN_SPREAD = 0.05  # a class whose pair scores barely vary (a few students) still needs a real gap
NOISE_T, GUARANTEE_T = 25, 30  # copydetect's defaults: k-gram length and the match length always found


def code_text(path: Path) -> str:
    """A submission's code: a notebook's code cells joined (magics and shell lines dropped), a .py as it is."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() != ".ipynb":
        return raw
    try:
        cells = json.loads(raw).get("cells") or []
    except (ValueError, AttributeError):
        return ""
    parts = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source") or ""
            source = "".join(source) if isinstance(source, list) else str(source)
            parts.append("\n".join(line for line in source.splitlines()
                                   if not line.lstrip().startswith(("!", "%"))))
    return "\n\n".join(parts) + "\n"


def _fingerprints(codes: dict[str, str], starter: str | None) -> dict[str, Any] | None:
    try:
        from copydetect import CodeFingerprint
    except ImportError:
        return None
    k, win = NOISE_T, GUARANTEE_T - NOISE_T + 1
    import numpy as np

    boiler: Any = np.unique(np.array(list(CodeFingerprint("starter.py", k, win, fp=io.StringIO(starter),
                                                     language="python").hashes))) if starter else []
    return {s: CodeFingerprint(f"{s}.py", k, win, boilerplate=boiler, fp=io.StringIO(c), language="python")
            for s, c in codes.items()}


def _code_pair(fa: Any, fb: Any) -> tuple[float, list[list[int]], list[list[int]]]:
    from copydetect import compare_files

    _, sims, slices = compare_files(fa, fb)
    spans = [[[int(s), int(e)] for s, e in zip(sl[0], sl[1], strict=False)] if len(sl) else [] for sl in slices]
    return round(float(max(sims)), 4), spans[0], spans[1]


def _arch(run: dict[str, Any]) -> str:
    model = run.get("model") or {}
    return json.dumps(model.get("layers") or model.get("graph") or model.get("class"), sort_keys=True, default=str)


def training_evidence(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """What only the grader sees: runs of ``a`` and ``b`` with the same architecture and the identical per-step
    loss sequence (at least 2 steps), and runs whose weights fingerprints are identical."""
    out: list[dict[str, Any]] = []
    for ra in a.get("runs") or []:
        for rb in b.get("runs") or []:
            la, lb = ra.get("step_losses") or [], rb.get("step_losses") or []
            if len(la) >= 2 and la == lb and None not in la and _arch(ra) == _arch(rb):
                out.append({"kind": "identical_losses", "runs": [ra.get("index"), rb.get("index")], "steps": len(la)})
            fa, fb = ra.get("weights_fp"), rb.get("weights_fp")
            if fa and fa == fb:
                out.append({"kind": "identical_weights", "runs": [ra.get("index"), rb.get("index")], "fp": fa})
    return out


def robust_z(values: list[float]) -> list[float]:
    """(x − median) / (1.4826 × MAD), the spread floored at ``MIN_SPREAD``."""
    if not values:
        return []
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values)
    spread = max(1.4826 * mad, MIN_SPREAD)
    return [round((v - med) / spread, 3) for v in values]


def similarity(files: dict[str, Path], results: dict[str, dict[str, Any]], starter: Path | None) -> dict[str, Any]:
    """Every pair of students (``files``: student → submission; ``results``: student → result) with ``a``,
    ``b``, ``score`` (0–1: the code overlap, or 1 with identical training records), ``flagged``, ``z`` and the
    ``evidence``; pairs sorted flagged first, then by score. ``code`` keeps each student's code text for the
    side-by-side pages (not written to the JSON)."""
    codes = {s: code_text(p) for s, p in sorted(files.items())}
    starter_code = code_text(starter) if starter is not None and starter.exists() else None
    prints = _fingerprints(codes, starter_code)
    pairs: list[dict[str, Any]] = []
    for a, b in combinations(sorted(codes), 2):
        code_score, sa, sb = _code_pair(prints[a], prints[b]) if prints else (0.0, [], [])
        evidence = training_evidence(results.get(a) or {}, results.get(b) or {})
        pairs.append({"a": a, "b": b, "code_score": code_score, "evidence": evidence,
                      "matches": {"a": sa, "b": sb}})
    # a notebook with no code of its own (the starter handed in) matches nobody: it would drag the median to 0
    own = {st for st, fp in (prints or {}).items() if len(fp.hashes)}
    ranked = [p for p in pairs if p["a"] in own and p["b"] in own]
    zs = dict(zip((id(p) for p in ranked), robust_z([p["code_score"] for p in ranked]), strict=True))
    for p in pairs:
        z = p["z"] = zs.get(id(p), 0.0)
        p["score"] = 1.0 if p["evidence"] else p["code_score"]
        p["flagged"] = bool(p["evidence"]) or p["code_score"] >= NEAR_COPY or (z >= Z_FLAG and
                                                                               p["code_score"] >= MIN_SCORE)
    pairs.sort(key=lambda p: (not p["flagged"], -p["score"], p["a"], p["b"]))
    scores = [p["code_score"] for p in ranked]
    return {"schema": "grader/similarity/v1", "method": "copydetect" if prints else "training records only",
            "template": starter.name if starter is not None and starter_code else None, "students": len(codes),
            "without_own_code": sorted(set(codes) - own) if prints else [],
            "thresholds": {"z": Z_FLAG, "min_score": MIN_SCORE, "near_copy": NEAR_COPY},
            "class": {"median": statistics.median(scores) if scores else None,
                      "max": max(scores) if scores else None},
            "pairs": pairs, "code": codes}


def write_similarity(report: dict[str, Any], out: Path) -> Path:
    """``out/similarity.json`` (without the code texts)."""
    path = out / "similarity.json"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v for k, v in report.items() if k != "code"}, ensure_ascii=False, indent=1),
                    encoding="utf-8")
    return path


def read_similarity(out: Path) -> dict[str, Any] | None:
    """``out/similarity.json`` when a batch wrote one."""
    path = out / "similarity.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
