"""Issue 18's learner-notebook corpus graded the way an instructor grades a class: one real `grader batch`.

tests/fixtures/learner_corpus/ holds notebooks written in the manner of public learner notebooks for dnn2_mnist
(Colab exports, save/load and best-epoch restore, sizes written out for the full MNIST, other MNIST loaders, old
tutorial APIs, out-of-order cells, tqdm, honest-but-weak runs and three forgeries; make_corpus.py writes them) and
expected.json, what a careful TA expects of each. One batch grades them all (--jobs 2, full MNIST at hand for the
notebooks that assume its sizes); each notebook is then one test, so a failure names the notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "learner_corpus"
EXPECTED: dict[str, dict[str, Any]] = {
    k: v for k, v in json.loads((CORPUS / "expected.json").read_text(encoding="utf-8")).items()
    if not k.startswith("_")}
# flags that accuse the student (the execution flags notebook_errors, requires_cuda, timeout, kernel_died do not)
INTEGRITY = {"trained_on_test", "probe_tampered", "step_mismatch", "weights_mismatch", "no_training_evidence",
             "accuracy_at_chance", "printed_numbers", "training_unverified"}
# result fields that are not words for a person (tracebacks and source live in errors/runs)
NOT_TEXT = {"schema_version", "submission", "score", "checks", "flags", "diagnoses", "runs", "errors", "facts",
            "execution", "timings", "probe", "reference", "versions", "sandbox", "gpu", "device", "status", "data"}
DATA_FACTS = {"mode", "provider", "datasets", "train_images", "test_images"}


def full_mnist() -> Path | None:
    """The full MNIST raw files ($GRADER_MNIST_DIR, else the checkout's shared copy), or None."""
    env = os.environ.get("GRADER_MNIST_DIR")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data" / "mnist"]:
        if (cand / "train-images-idx3-ubyte.gz").exists() or (cand / "train-images-idx3-ubyte").exists():
            return cand
    return None


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Grades the whole corpus in one `grader batch` call; returns the process, its wall time and out dir."""
    root = tmp_path_factory.mktemp("learner_corpus")
    cls = root / "class"
    cls.mkdir()
    for nb in sorted(CORPUS.glob("*.ipynb")):
        shutil.copy(nb, cls / nb.name)
    out = root / "out"
    env = dict(os.environ)
    data = full_mnist()
    if data:
        env["GRADER_MNIST_DIR"] = str(data)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(cls), "--assignment", "dnn2_mnist",
                           "--out", str(out), "--jobs", "2", "--no-progress"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
    return {"proc": proc, "wall_s": time.monotonic() - start, "out": out, "full_data": data is not None}


def result_of(batch: dict[str, Any], name: str) -> dict[str, Any]:
    proc = batch["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = batch["out"] / f"{name}.json"
    assert path.exists(), f"no result for {name}; batch stderr: {proc.stderr[-2000:]}"
    return json.loads(path.read_text(encoding="utf-8"))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def person_text(res: dict[str, Any]) -> str:
    """Everything a person reads about this submission: message, notes, diagnoses, flags, check messages and
    any other top-level words (a fallback or environment note), not tracebacks or the student's source."""
    parts = _strings(res.get("message")) + _strings(res.get("submission", {}).get("notes"))
    parts += [s for d in res.get("diagnoses", []) for k in ("message", "todo", "title") for s in _strings(d.get(k))]
    parts += [s for f in res.get("flags", []) for k in ("message", "messages") for s in _strings(f.get(k))]
    parts += [s for c in res.get("checks", []) for k in ("messages", "warnings") for s in _strings(c.get(k))]
    parts += [s for k, v in res.items() if k not in NOT_TEXT for s in _strings(v)]
    parts += [s for k, v in res.get("data", {}).items() if k not in DATA_FACTS for s in _strings(v)]
    return "\n".join(parts)


def test_corpus_is_complete() -> None:
    notebooks = {p.stem for p in CORPUS.glob("*.ipynb")}
    assert notebooks == set(EXPECTED), "expected.json and the notebooks must name the same submissions"
    assert len(notebooks) >= 22
    forged = [n for n, e in EXPECTED.items() if not e["honest"]]
    assert 2 <= len(forged) <= 4 and all(EXPECTED[n].get("flags") for n in forged)
    colab = [n for n in notebooks if "colab" in json.loads((CORPUS / f"{n}.ipynb").read_text())["metadata"]]
    assert len(colab) >= 5


def test_batch_finishes_in_budget(batch: dict[str, Any]) -> None:
    """The whole corpus grades in one batch within the CI budget (about 4 minutes on 2 cores)."""
    assert batch["proc"].returncode == 0, batch["proc"].stderr[-3000:]
    assert batch["wall_s"] < 420, f"corpus batch took {batch['wall_s']:.0f} s"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_learner_notebook(batch: dict[str, Any], name: str) -> None:
    """One notebook's result against what a careful TA expects (expected.json): honest ones are never accused."""
    exp = EXPECTED[name]
    if exp.get("data_mode") == "full" and not batch["full_data"]:
        pytest.skip("needs the full MNIST ($GRADER_MNIST_DIR) to be re-graded on it")
    res = result_of(batch, name)
    flags = {f["id"] for f in res["flags"]}
    checks = {c["id"]: c for c in res["checks"]}
    why = f"{name}: {exp['why']}\nmessage: {res.get('message')}\nflags: {sorted(flags)}"
    if exp["honest"]:
        assert not flags & INTEGRITY, f"honest notebook accused: {why}"
    else:
        assert set(exp["flags"]) <= flags, f"forgery not flagged: {why}"
    assert res["status"] == exp["status"], why
    for cid in exp.get("checks_pass", []):
        assert checks[cid]["status"] == "pass", f"{cid}: {checks[cid]['message']} | {why}"
    for cid in exp.get("checks_fail", []):
        assert checks[cid]["status"] != "pass", f"{cid} passed: {checks[cid]['message']} | {why}"
    for cid in exp.get("credited", []):
        c = checks[cid]
        assert c["points"] > 0 and not c.get("voided_by"), f"{cid} not credited: {c['message']} | {why}"
    if exp.get("accuracy_measured"):
        assert all(r["accuracy"]["value"] is not None and r["accuracy"]["source"] == "grader"
                   for r in res["runs"]), f"an accuracy was withheld | {why}"
    proofs = json.dumps([r.get("proof") for r in res["runs"]], ensure_ascii=False).lower()
    for word in exp.get("proof_mentions", []):
        assert word.lower() in proofs, f"no run's proof says {word!r} | {why}"
    ids = {d["id"] for d in res["diagnoses"]}
    assert set(exp.get("diagnoses", [])) <= ids, f"diagnoses {sorted(ids)} | {why}"
    if "data_mode" in exp:
        assert res["data"]["mode"] == exp["data_mode"], why
    message = " ".join(_strings(res.get("message")) + _strings(res.get("messages"))).lower()
    for word in exp.get("message_mentions", []):
        assert word.lower() in message, f"message does not name {word!r} | {why}"
    text = person_text(res).lower()
    for word in exp.get("mentions", []):
        assert word.lower() in text, f"nothing a person reads mentions {word!r} | {why}"
