"""Run every diagnosis on one submission: one root cause per run where evidence overlaps, lecture pointers,
the assignment's switches. Never raises for a student's notebook: a rule that fails is skipped."""

from __future__ import annotations

from collections.abc import Callable

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis import cells, data, environment, gradients, libraries, migrations, oddities, structure, training
from grader.diagnosis.model import SEVERITIES, Diagnosis, DiagnosisInput

Rule = Callable[[DiagnosisInput, DiagnosisConfig], list[Diagnosis]]

#: every rule, in the order findings are reported within a severity
RULES: tuple[Rule, ...] = (
    libraries.missing_library,
    cells.task_cell_errors, oddities.unparsable_cells, migrations.old_apis, oddities.out_of_order,
    oddities.progress_only, gradients.grad_not_zeroed, gradients.grad_zeroed_before_step,
    data.empty_batches, training.lr_too_high, gradients.exploding,
    training.chance_plateau, training.wrong_optimizer, data.trained_on_test, data.inputs,
    structure.output_layer, structure.dropout_ignores_eval, data.avg_cost_outside, gradients.dead_relu,
    environment.pip_missing, environment.colab_environment,
)
#: a finding on the left explains the ones on the right for the same run: those are folded into it
_ROOT_CAUSES = {"empty_batches": ("lr_too_high", "exploding_gradients", "chance_plateau", "dead_relu"),
                "grad_not_zeroed": ("lr_too_high", "exploding_gradients", "chance_plateau", "dead_relu"),
                "grad_zeroed_before_step": ("chance_plateau", "dead_relu"),
                "lr_too_high": ("exploding_gradients",), "chance_plateau": ("dead_relu",)}


def diagnose(inp: DiagnosisInput, cfg: DiagnosisConfig | None = None) -> list[Diagnosis]:
    """All findings about one submission, errors first, each with its task and lecture pointer."""
    cfg = cfg or DiagnosisConfig()
    found: list[Diagnosis] = []
    for rule in RULES:
        try:
            found.extend(rule(inp, cfg))
        except Exception:  # noqa: BLE001 - a rule's bug must not cost the student their grade
            continue
    found = [d for d in libraries.fold_follow_ons(_fold(found)) if d.id not in cfg.disabled]
    for d in found:
        if d.task is None and d.run is not None:
            er = inp.run_by_index(d.run)
            d.task = cells.run_task(inp, er.run.cell) if er is not None else None
        d.lecture = d.lecture or cfg.lecture_for(d.id, d.evidence.get("cause"))
    return sorted(found, key=lambda d: SEVERITIES.index(d.severity))


def _fold(found: list[Diagnosis]) -> list[Diagnosis]:
    """Drop findings a root cause of the same run explains; keep their evidence under the root cause's ``also``."""
    kept: list[Diagnosis] = []
    for d in found:
        root = next((r for r in found if r.run is not None and r.run == d.run
                     and d.id in _ROOT_CAUSES.get(r.id, ())), None)
        if root is None:
            kept.append(d)
            continue
        root.evidence.setdefault("also", []).append({"id": d.id, **{k: v for k, v in d.evidence.items()
                                                                     if not isinstance(v, (dict, list))}})
    return kept
