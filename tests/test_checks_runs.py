"""Choosing a run by predicates, with a plain-words reason in both languages when none fits."""

from __future__ import annotations

import nbformat
import pytest

from grader.checks.context import CheckContext
from grader.checks.runs import architecture_problems, choose_run, differences, epoch_problem
from grader.checks.selectors import parse_selector, problems, select
from grader.evaluation.runs import EvaluatedRun
from grader.recording.architecture import Architecture, Layer
from grader.recording.events import Epoch, Recording, Run


def _run(index: int, acts: list[str | None], widths: list[int], cls: str = "Adam", epochs: int = 2,
         decorations: tuple[str, ...] = (), loss: str = "cross_entropy") -> EvaluatedRun:
    sizes = [784, *widths, 10]
    layers = tuple(Layer("linear", a, b, acts[i] if i < len(acts) else None, decorations if i < len(acts) else ())
                   for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)))
    arch = Architecture(layers, (), (), 1000, None)
    run = Run(index, index, {"torch_cls": cls, "hparams": {"lr": 0.001}}, index, "Sequential", None, None, loss, 100,
              index + 1, losses=[2.0, 1.0] * epochs * 5,
              epochs=[Epoch(i, 2.0 / (i + 1), 10, True, "train") for i in range(epochs)])
    return EvaluatedRun(run, arch)


def _ctx(*runs: EvaluatedRun) -> CheckContext:
    return CheckContext(list(runs), Recording(), None, nbformat.v4.new_notebook(), None, "subset")


def test_problems_are_said_in_both_languages() -> None:
    five = _run(0, ["relu"] * 5, [64] * 5)
    (hidden,) = architecture_problems(five.arch, 6, 784, 10)
    assert hidden["en"] == "it has 5 hidden layers: 6 Linear layers make 5 hidden layers; add one more"
    assert hidden["ko"].startswith("은닉층이 5개입니다: Linear 층 6개는 은닉층 5개를 만듭니다")
    short = epoch_problem(_run(1, ["relu"] * 6, [64] * 6, epochs=0), 1)
    assert short is not None and "at least 1 needed" in short["en"] and "최소 1개 필요" in short["ko"]


def test_choose_run_describes_the_closest_and_memoises() -> None:
    five, two = _run(0, ["relu"] * 5, [64] * 5), _run(1, ["relu"] * 2, [64] * 2)
    ctx = _ctx(two, five)

    def want(er: EvaluatedRun) -> list:  # type: ignore[type-arg]
        return architecture_problems(er.arch, 6)

    er, why = choose_run(ctx, "k", want, lambda r: abs((r.arch.hidden if r.arch else 0) - 6))
    assert er is None and why["en"].startswith("closest is run 1 (Adam, ") and "5 hidden layers" in why["en"]
    assert why["ko"].startswith("가장 가까운 것은 실행 1 (Adam, ")
    assert choose_run(ctx, "k", lambda r: [], None) == (None, why)  # same key: same answer


def test_selector_predicates() -> None:
    sel = parse_selector("s", {"hidden_layers": 6, "activation": "sigmoid", "optimizer": ["SGD"], "min_epochs": 2},
                         "hw.toml")
    relu_adam = _run(0, ["relu"] * 6, [64] * 6)
    said = [p["en"] for p in problems(sel, relu_adam)]
    assert "not every hidden layer uses Sigmoid (hidden activations: relu, relu, relu, relu, relu, relu)" in said
    assert "it was trained with Adam, not SGD" in said
    good = _run(1, ["sigmoid"] * 6, [64] * 6, cls="SGD")
    ctx = _ctx(relu_adam, good)
    ctx.selectors = {"s": sel}
    assert select(ctx, "s")[0] is good
    reg = parse_selector("r", {"any_decoration": ["Dropout"]}, "hw.toml")
    assert problems(reg, relu_adam)[0]["en"] == "no hidden layer has Dropout"
    assert not problems(reg, _run(2, ["relu"] * 2, [8, 8], decorations=("Dropout 0.2",)))


def test_differences_besides_the_activation() -> None:
    a, b = _run(0, ["relu"] * 6, [64] * 6), _run(1, ["sigmoid"] * 6, [32] * 6, cls="SGD")
    diff = differences(a, b)
    assert [d["en"] for d in diff][:2] == ["widths [64, 64, 64, 64, 64, 64] vs [32, 32, 32, 32, 32, 32]",
                                          "optimizer Adam vs SGD"]
    assert diff[1]["ko"] == "옵티마이저 Adam 대 SGD"


def test_accuracy_credit_never_starts_near_chance() -> None:
    """A widely scattered reference (ReLU+SGD on the subset, 0.684 ± 0.221) must not give full credit at chance."""
    from grader.checks.reference import accuracy_grade

    ref = {"accuracy_mean": 0.6843, "accuracy_sd": 0.2212}
    assert accuracy_grade(0.089, ref).fraction == 1.0  # without the floor: mean − 3σ = 0.02
    at_chance = accuracy_grade(0.089, ref, chance=0.1)
    assert at_chance.fraction == 0.0 and at_chance.full_from == pytest.approx(0.1 + 0.5 * (0.6843 - 0.1))
    assert accuracy_grade(0.60, ref, chance=0.1).fraction == 1.0
    tight = {"accuracy_mean": 0.93, "accuracy_sd": 0.009}  # a tight band keeps its own threshold
    assert accuracy_grade(0.905, tight, chance=0.1).full_from == pytest.approx(0.93 - 3 * 0.009)


def _steps_run(losses: list[float]) -> EvaluatedRun:
    layers = (Layer("linear", 2, 4, "sigmoid", ()), Layer("linear", 4, 1, None, ()))
    run = Run(0, 0, {"torch_cls": "SGD", "hparams": {"lr": 1.0}}, 0, "Sequential", None, None, "bce", 4, 1,
              losses=losses, iters=[-1] * len(losses), epochs=[Epoch(0, None, len(losses), False, None)],
              steps_only=True)
    return EvaluatedRun(run, Architecture(layers, ("sigmoid",), (), 17, None))


def test_a_run_without_epochs_is_judged_in_steps() -> None:
    from grader.checks.builtin import decrease_outcome, ratio_outcome

    falling = _steps_run([0.7 - 0.0003 * i for i in range(2000)])
    assert epoch_problem(falling, 1) is None and epoch_problem(falling, 1, 100) is None
    short = epoch_problem(_steps_run([0.7] * 50), 1, 100)
    assert short is not None and short["en"] == "it was trained for 50 step(s) (a loop without epochs); at least 100 " \
                                               "needed" and "최소 100 step 필요" in short["ko"]
    sel = parse_selector("s", {"min_hidden_layers": 1, "out_features": 1, "loss": "bce", "min_steps": 100}, "hw.toml")
    assert problems(sel, falling) == []
    ratio = ratio_outcome(falling, 0.5)
    assert ratio.passed and "(steps 1–200)" in ratio.message["en"] and "(steps 1801–2000)" in ratio.message["en"]
    assert "step_means" in ratio.evidence
    flat = decrease_outcome(_steps_run([0.69] * 300), 0.25)
    assert flat.passed is False and "(steps 1–30)" in flat.message["en"] and "0% lower" in flat.message["en"]
