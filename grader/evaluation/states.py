"""Which recorded state a run's final weights are, when the notebook wrote into them after its last step.

The kernel's guard (``grader.recording.probe_guard``) streams a fingerprint of each run's weights at every epoch
edge and after every cell while they are still as the run's last step left them (``weights`` guard events), and,
when the final weights were changed in place after the last step, their fingerprint in its final report
(``final_fp``). Saving and loading the trained weights, or restoring the best epoch, leaves weights equal to a
recorded state: honest, and named ("restored the weights of epoch 2"). Weights equal to no recorded state were
not trained by this run (``weights_mismatch``).
"""

from __future__ import annotations

from typing import Any

from grader.recording.events import Recording, Run
from grader.text import Text, text


def _final_evidence(recording: Recording, run: int) -> dict[str, Any]:
    finals = [ev for ev in recording.guard if ev.get("kind") == "final"]
    for r in (finals[-1].get("runs") or []) if finals else []:
        if isinstance(r, dict) and r.get("run") == run:
            return r
    return {}


def recorded_states(recording: Recording, run: Run) -> dict[str, int]:
    """Fingerprint -> the step count it was taken at (the latest one for weights seen twice), for one run.

    The guard fingerprints each step count once: a step with two different fingerprints was written by the
    notebook, and neither counts."""
    by_step: dict[int, set[str]] = {}
    for ev in recording.guard:
        step, fp = ev.get("step"), ev.get("fp")
        if ev.get("kind") == "weights" and ev.get("run") == run.index and isinstance(fp, str) \
                and isinstance(step, int) and not isinstance(step, bool) and 0 < step <= run.steps:
            by_step.setdefault(step, set()).add(fp)
    out: dict[str, int] = {}
    for step, fps in sorted(by_step.items()):
        if len(fps) == 1:
            out[fps.pop()] = step
    return out


def epoch_ending_at(run: Run, step: int) -> int | None:
    """0-based index of the epoch whose last step is ``step`` (None: ``step`` ends no epoch)."""
    end = 0
    for e in run.epochs:
        end += e.steps
        if end == step:
            return e.index
    return None


def weights_state(recording: Recording, run: Run) -> dict[str, Any] | None:
    """What the run's final weights are, when the notebook wrote into them after its last step (None: it did not).

    ``{"recorded": True, "step": n, "epoch": k | None, "last": bool, "changed": m, "text": Text}`` for weights equal
    to the state after step ``n`` (the end of epoch ``k``, 0-based); ``{"recorded": False, "changed": m}`` for weights
    the run never had."""
    final = _final_evidence(recording, run.index)
    later = final.get("modified_after_training") or []
    if not later:
        return None
    fp = final.get("final_fp")
    step = recorded_states(recording, run).get(fp) if isinstance(fp, str) else None
    if step is None:
        return {"recorded": False, "changed": len(later)}
    epoch = epoch_ending_at(run, step)
    return {"recorded": True, "step": step, "epoch": epoch, "last": step == run.steps, "changed": len(later),
            "text": _describe(run, step, epoch)}


def _describe(run: Run, step: int, epoch: int | None) -> Text:
    if step == run.steps:
        return text("final weights: written back after training, equal to those of its last step",
                    "최종 가중치: 학습 후 다시 불러왔으며 마지막 step 의 가중치와 같습니다")
    if epoch is not None:
        return text(f"restored the weights of epoch {epoch + 1} (of {len(run.epochs)})",
                    f"{epoch + 1} 에폭의 가중치를 복원했습니다 (전체 {len(run.epochs)} 에폭)")
    return text(f"restored the weights it had after step {step} (of {run.steps})",
                f"{step} 번째 step 뒤의 가중치를 복원했습니다 (전체 {run.steps} step)")
