"""The model's output end: an activation after the output layer, softmax/log_softmax before the loss; a model
that stays random in eval mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis.evidence import name
from grader.diagnosis.model import Diagnosis, DiagnosisInput
from grader.text import text

if TYPE_CHECKING:
    from grader.evaluation.runs import EvaluatedRun

_PROBABILITY = {"softmax", "log_softmax", "log"}
# losses that take a bounded output by design (BCELoss: a probability) or any output (regression): the
# cross-entropy rule "no activation after the output layer" does not apply to them
_OWN_OUTPUT = {"bce", "mse", "l1", "smooth_l1", "huber"}


def output_layer(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """Per run: what follows the last affine layer, judged against the loss the run used."""
    found = [_finding(er) for er in inp.runs if er.arch is not None and er.arch.affine]
    return [d for d in found if d is not None]


def _sigmoid_before_logits(er: EvaluatedRun, ops: list[str], ev: dict[str, Any]) -> Diagnosis | None:
    """BCEWithLogitsLoss applies its own sigmoid: one in the model squashes twice."""
    if "sigmoid" not in ops:
        return None
    return Diagnosis(
        "activation_after_output", "error",
        text(f"{name(er)}: the model ends in sigmoid and BCEWithLogitsLoss applies sigmoid again: outputs "
             "squashed twice stay between 0.5 and 0.73, so the loss cannot fall",
             f"{name(er)}: 모델 끝의 sigmoid 뒤에 BCEWithLogitsLoss 가 sigmoid 를 한 번 더 적용합니다: 두 번 눌린 "
             "출력은 0.5 와 0.73 사이에 머물러 loss 가 줄 수 없습니다"),
        text("Remove the sigmoid at the end of the model (BCEWithLogitsLoss takes logits), or use BCELoss.",
             "모델 끝의 sigmoid 를 지우거나 (BCEWithLogitsLoss 는 logit 을 받습니다) BCELoss 를 쓰세요."),
        ev, run=er.run.index)


def _finding(er: EvaluatedRun) -> Diagnosis | None:
    assert er.arch is not None
    ops, loss = list(er.arch.output_ops), er.run.loss_kind
    ev = {"output_ops": ops, "loss": loss, "run_label": name(er)}
    log_of_softmax = ops[-2:] == ["softmax", "log"]
    ops = [*ops[:-2], "log_softmax"] if log_of_softmax else ops  # torch.log(softmax(x)) is a log_softmax
    if loss in _OWN_OUTPUT:
        return None
    if loss == "bce_logits":
        return _sigmoid_before_logits(er, ops, ev)
    hidden_like = [o for o in ops if o not in _PROBABILITY]
    if hidden_like:
        acts = ", ".join(hidden_like)
        return Diagnosis(
            "activation_after_output", "error",
            text(f"{name(er)}: the output layer is followed by {acts}, so the logits cannot be negative or large "
                 "and CrossEntropyLoss cannot push the right class up freely; the loss stays high",
                 f"{name(er)}: 출력층 뒤에 {acts} 가 있어 logit 이 음수가 되거나 커질 수 없고, CrossEntropyLoss 가 "
                 "정답 클래스를 마음껏 올릴 수 없어 loss 가 높게 남습니다"),
            text("Remove the activation after the last Linear layer: return its raw outputs (logits).",
                 "마지막 Linear 뒤의 활성화 함수를 지우고 그 출력(logit)을 그대로 반환하세요."),
            ev, run=er.run.index)
    if "softmax" in ops and loss == "cross_entropy":
        return Diagnosis(
            "softmax_before_ce", "warning",
            text(f"{name(er)}: the model ends in softmax and CrossEntropyLoss applies log-softmax again "
                 "(\"Softmax is internally computed\"): probabilities squashed twice give small gradients, "
                 "so it trains slower",
                 f"{name(er)}: 모델 끝의 softmax 뒤에 CrossEntropyLoss 가 log-softmax 를 한 번 더 적용합니다 "
                 "(\"Softmax is internally computed\"). 두 번 눌린 확률은 기울기가 작아 학습이 느립니다"),
            text("Remove the softmax at the end of the model; CrossEntropyLoss takes raw logits.",
                 "모델 끝의 softmax 를 지우세요. CrossEntropyLoss 는 logit 을 그대로 받습니다."),
            ev, run=er.run.index)
    if log_of_softmax and loss == "nll":
        return Diagnosis(
            "softmax_before_ce", "info",
            text(f"{name(er)}: torch.log(softmax(...)) with NLLLoss is the cross-entropy, but the log of a softmax "
                 "that underflows to 0 is -inf; log_softmax computes the same thing stably",
                 f"{name(er)}: softmax 뒤 torch.log 와 NLLLoss 는 cross-entropy 와 같지만, softmax 가 0 으로 "
                 "underflow 하면 log 가 -inf 가 됩니다. log_softmax 는 같은 값을 안정적으로 계산합니다"),
            text("Use torch.log_softmax (or raw logits with CrossEntropyLoss).",
                 "torch.log_softmax 를 쓰세요 (또는 logit 과 CrossEntropyLoss)."),
            ev, run=er.run.index)
    if "softmax" in ops and loss == "nll":
        return Diagnosis(
            "softmax_before_ce", "error",
            text(f"{name(er)}: NLLLoss expects log-probabilities but the model ends in softmax (probabilities)",
                 f"{name(er)}: NLLLoss 는 로그 확률을 받는데 모델 끝이 softmax(확률)입니다"),
            text("Use log_softmax with NLLLoss, or raw logits with CrossEntropyLoss.",
                 "NLLLoss 에는 log_softmax 를, CrossEntropyLoss 에는 logit 을 쓰세요."),
            ev, run=er.run.index)
    if "log_softmax" in ops and loss == "cross_entropy":
        return Diagnosis(
            "softmax_before_ce", "info",
            text(f"{name(er)}: log_softmax before CrossEntropyLoss does no harm (log-softmax of log-softmax is the "
                 "same), but it is redundant",
                 f"{name(er)}: CrossEntropyLoss 앞의 log_softmax 는 해가 없지만 (두 번 적용해도 같습니다) "
                 "불필요합니다"),
            text("Either return logits with CrossEntropyLoss or keep log_softmax with NLLLoss.",
                 "CrossEntropyLoss 에는 logit 을, log_softmax 에는 NLLLoss 를 짝지으세요."),
            ev, run=er.run.index)
    return None


def dropout_ignores_eval(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """The model is random in eval mode: a functional dropout without ``training=self.training``."""
    out = []
    for er in inp.runs:
        if not er.random_in_eval:
            continue
        kernel = f"{er.kernel_accuracy:.4f}" if er.kernel_accuracy is not None else "?"
        graded = f"{er.accuracy:.4f}" if er.accuracy is not None else "?"
        out.append(Diagnosis(
            "dropout_ignores_eval", "warning",
            text(f"{name(er)}: in eval mode the model gave two different outputs for the same images, so something "
                 "random still runs at test time — usually F.dropout(x, p) without training=self.training, which "
                 f"model.eval() cannot switch off; the notebook's own eval-mode accuracy was {kernel}, the grader "
                 f"measured {graded} with dropout off",
                 f"{name(er)}: eval 모드에서 같은 이미지에 대해 모델 출력이 두 번 달랐습니다. 테스트 때도 무작위 "
                 "연산이 남아 있다는 뜻으로, 대개 training=self.training 없이 쓴 F.dropout(x, p) 때문입니다 "
                 f"(model.eval() 로 꺼지지 않음). 노트북의 eval 모드 정확도는 {kernel}, 채점기가 dropout 을 끄고 잰 "
                 f"정확도는 {graded} 입니다"),
            text("Use nn.Dropout(p) as a layer, or F.dropout(x, p, training=self.training).",
                 "nn.Dropout(p) 층을 쓰거나 F.dropout(x, p, training=self.training) 으로 쓰세요."),
            {"kernel_accuracy": er.kernel_accuracy, "grader_accuracy": er.accuracy}, run=er.run.index))
    return out
