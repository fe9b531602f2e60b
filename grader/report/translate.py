"""Check messages in Korean: the checks speak English; students of this course read Korean first.

The checks build their messages from a small set of phrases (``grader/checks/*.py``). Each phrase has a
pattern here; :func:`localize` rewrites every phrase it knows and leaves anything else (numbers, run
labels, phrases added later) as it was, so a translation can be incomplete but never wrong.
"""

from __future__ import annotations

import re

_RUN = r"(run \d+ \([^()]*(?:\([^()]*\)[^()]*)*\))"  # "run 2 (Adam, 784→256→…→10 (ReLU ×5))"

# (English pattern, Korean replacement); applied in order, so longer phrases come first.
_KO: list[tuple[str, str]] = [
    (r"^0 points: integrity flag ([\w, ]+) — ", r"0점: 무결성 경고 \1 — "),
    (r"0 points: " + _RUN + r" trained on the test split, so its test accuracy (\S+|\(not measured\)) was measured "
     r"on images it learned from and is not a test accuracy; for information, ",
     r"0점: \1 은 테스트 데이터로 학습했으므로 테스트 정확도 \2 는 학습한 이미지로 잰 값이라 테스트 정확도가 아닙니다. "
     r"참고로 "),
    (r"the grader measured ([\d.]+) on the train split, which it did not see",
     r"이 실행이 보지 않은 train 데이터에서 채점기가 잰 정확도는 \1 입니다"),
    (r"its accuracy on the train split, which it did not see, was not measured",
     "이 실행이 보지 않은 train 데이터에서의 정확도는 측정되지 않았습니다"),
    (r"task (\d+)'s cell index (\d+) raised (.+?), so that cell's work never happened",
     r"과제 \1의 셀 \2에서 \3 오류가 나서 그 셀이 하려던 일이 일어나지 않았습니다"),
    (r"it has (\d+) hidden layers: (\d+) Linear layers make \d+ hidden layers; add one more",
     r"은닉층이 \1개입니다: Linear 층 \2개는 은닉층 \1개를 만듭니다. Linear 층(과 활성화 함수)을 하나 더 추가하세요"),
    (r"it has (\d+) hidden layers: (\d+) Linear layers make \d+ hidden layers; the homework asks for (\d+)",
     r"은닉층이 \1개입니다: Linear 층 \2개는 은닉층 \1개를 만듭니다. 과제는 은닉층 \3개를 요구합니다"),
    (r"it maps (\d+) → (\d+), not (\d+) → (\d+)", r"입력·출력 크기가 \1 → \2 입니다 (\3 → \4 이어야 합니다)"),
    (r"no activation after hidden layer\(s\) (\[[^\]]*\]): stacked Linear layers collapse into one",
     r"은닉층 \1 뒤에 활성화 함수가 없습니다: 활성화 없이 쌓은 Linear 층들은 하나의 Linear 와 같습니다"),
    (r"its architecture could not be traced \(no Linear layer or parameter matmul seen\)",
     "모델 구조를 추적하지 못했습니다 (Linear 층이나 파라미터 행렬곱이 보이지 않습니다)"),
    (r"it contains operations the grader cannot rebuild: ", "채점기가 재구성할 수 없는 연산이 있습니다: "),
    (r"every hidden activation is Sigmoid \(that is task 2's model; task 1 uses ReLU\)",
     "모든 은닉층 활성화가 Sigmoid 입니다 (그건 과제 2의 모델이고, 과제 1은 ReLU 를 씁니다)"),
    (r"not every hidden layer uses Sigmoid \(hidden activations: ([^)]*)\)",
     r"모든 은닉층이 Sigmoid 를 쓰지는 않습니다 (은닉층 활성화: \1)"),
    (r"it was trained for (\d+) steps, which is (\d+) complete epoch\(s\); at least (\d+) needed",
     r"\1 step 만 학습했습니다 (완료된 epoch \2개; 최소 \3개 필요)"),
    (r"no training was recorded: no optimizer stepped any model",
     "학습 기록이 없습니다: 어떤 옵티마이저도 모델을 step 하지 않았습니다"),
    (r"no six-hidden-layer Sigmoid model was trained: ", "은닉층 6개짜리 Sigmoid 모델이 학습되지 않았습니다: "),
    (r"no six-hidden-layer model was trained \(see t1\.six_hidden\)",
     "은닉층 6개짜리 모델이 학습되지 않았습니다 (t1.six_hidden 참고)"),
    (r"no six-hidden-layer model was trained: ", "은닉층 6개짜리 모델이 학습되지 않았습니다: "),
    (r"no six-hidden-layer ReLU run to compare with: ", "비교할 은닉층 6개짜리 ReLU 실행이 없습니다: "),
    (r"no Sigmoid run to compare: ", "비교할 Sigmoid 실행이 없습니다: "),
    (r"closest is " + _RUN + ", but ", r"가장 가까운 것은 \1 이지만, "),
    (r"the output layer is followed by ([^:]*): logits must stay unbounded for CrossEntropyLoss; "
     r"remove the activation after the last Linear",
     r"출력층 뒤에 \1 가 있습니다: CrossEntropyLoss 에는 제한되지 않은 logit 이 필요하니 마지막 Linear 뒤의 활성화 "
     r"함수를 지우세요"),
    (r"only (\d+) complete epoch\(s\) recorded; need at least 2 to see the loss fall",
     r"완료된 epoch 이 \1개뿐입니다: loss 가 줄었는지 보려면 최소 2개가 필요합니다"),
    (r"mean train loss ([\d.]+) \(epoch 1\) → ([\d.]+) \(epoch (\d+)\), ratio ([\d.]+)",
     r"평균 train loss \1 (epoch 1) → \2 (epoch \3), 비율 \4"),
    (r" > ([\d.]+): the loss did not fall enough; check lr and the training loop",
     r" > \1: loss 가 충분히 줄지 않았습니다. 학습률과 학습 루프를 확인하세요"),
    (r"(\d+)/(\d+) epochs inside the reference band", r"\2개 epoch 중 \1개가 참조 범위 안"),
    (r"(\d+)/(\d+) epochs outside the reference band", r"\2개 epoch 중 \1개가 참조 범위 밖"),
    (r"epoch (\d+): ([\d.]+) not in ", r"epoch \1: \2 가 범위 밖 "),
    (r"test accuracy could not be measured", "테스트 정확도를 측정하지 못했습니다"),
    (r"test accuracy ([\d.]+) was measured only inside the notebook's kernel and cannot be verified \((.*)\); "
     r"the grader credits only an accuracy it measures itself on a model it can rebuild",
     r"테스트 정확도 \1 은 노트북 커널 안에서만 측정되어 검증할 수 없습니다 (\2). 채점기는 직접 재구성한 모델로 "
     r"스스로 측정한 정확도에만 점수를 줍니다"),
    (r"test accuracy ([\d.]+)", r"테스트 정확도 \1"),
    (r"; reference ([\d.]+) ± ([\d.]+), full credit from ([\d.]+)", r"; 참조 \1 ± \2, 만점 기준 \3"),
    (r" — partial credit (\d+%); train longer or check the model",
     r" — 부분 점수 \1. 더 오래 학습하거나 모델을 확인하세요"),
    (r"trained for (\d+) epoch\(s\)", r"\1 epoch 학습"),
    (r"the Sigmoid run differs from the ReLU run in more than the activation: ",
     "Sigmoid 실행이 ReLU 실행과 활성화 함수 말고도 다릅니다: "),
    (r"same widths, optimizer, learning rate, epochs and batch size; only the activation differs",
     "너비, 옵티마이저, 학습률, epoch, batch 크기가 같고 활성화 함수만 다릅니다"),
    (r"widths (\[[^\]]*\]) vs (\[[^\]]*\])", r"너비 \1 대 \2"),
    (r"optimizer (\w+) vs (\w+)", r"옵티마이저 \1 대 \2"),
    (r"learning rate ([\w.+-]+) vs ([\w.+-]+)", r"학습률 \1 대 \2"),
    (r"epochs (\d+) vs (\d+)", r"epoch \1 대 \2"),
    (r"batch size (\w+) vs (\w+)", r"batch 크기 \1 대 \2"),
    (r"written conclusion found \((\d+) characters\): pending instructor review",
     r"작성한 결론을 찾았습니다 (\1자): 강사 검토 대기"),
    (r"no written conclusion found near the Sigmoid experiment: pending instructor review",
     "Sigmoid 실험 근처에서 작성한 결론을 찾지 못했습니다: 강사 검토 대기 (마크다운 셀에 결론을 쓰세요)"),
    (r"every training step was taken by torch\.optim\.Adam; train with another optimizer "
     r"\(e\.g\. SGD, RMSprop, Adagrad\)",
     "모든 학습 step 을 torch.optim.Adam 이 했습니다: 다른 옵티마이저(예: SGD, RMSprop, Adagrad)로 학습하세요"),
    (r"([\w, ]+) was created but never stepped: every optimizer\.step\(\) call went to Adam; "
     r"call step\(\) on the new optimizer inside the loop",
     r"\1 를 만들었지만 step 하지 않았습니다: optimizer.step() 호출이 모두 Adam 으로 갔습니다. 학습 루프 안에서 "
     r"새 옵티마이저의 step() 을 호출하세요"),
    (r"no training was recorded: ", "학습 기록이 없습니다: "),
    (r"; train with an optimizer other than Adam \(e\.g\. SGD, RMSprop, Adagrad\)",
     "; Adam 이 아닌 옵티마이저(예: SGD, RMSprop, Adagrad)로 학습하세요"),
    (r"(\w+) stepped for only (\d+) steps \((\d+) complete epochs\); at least (\d+) needed",
     r"\1 는 \2 step 만 했습니다 (완료된 epoch \3개; 최소 \4개 필요)"),
    (r"no run with an optimizer other than Adam completed an epoch",
     "Adam 이 아닌 옵티마이저로 1 epoch 을 마친 실행이 없습니다"),
    (r"need at least 2 complete epochs of the non-Adam run to judge its loss",
     "Adam 이 아닌 실행의 loss 를 판단하려면 완료된 epoch 이 최소 2개 필요합니다"),
    (r"\(lr ([\w.+-]+)\) stepped " + _RUN + r" for (\d+) epoch\(s\)", r"(lr \1) 로 \2 을 \3 epoch 학습"),
    (r"(\d+) → (\d+) with no activation after the output layer", r"\1 → \2, 출력층 뒤에 활성화 함수 없음"),
    (r"(\d+) → (\d+) with only ([\w+]+) after the output layer", r"\1 → \2, 출력층 뒤에는 \3 만 있음"),
    (r"loss ([\d.]+) → ([\d.]+) \((\d+)% lower\)", r"loss \1 → \2 (\3% 감소)"),
    (r", less than (\d+%): try a larger learning rate or momentum",
     r", \1 미만: 더 큰 학습률이나 momentum 을 써 보세요"),
    (r"\brun (\d+) \(", r"실행 \1 ("),
]
_COMPILED = [(re.compile(p), r) for p, r in _KO]


def localize(message: str | None, lang: str) -> str:
    """``message`` in ``lang``: Korean rewrites the phrases this module knows; English is the original."""
    if not message or lang != "ko":
        return message or ""
    for pattern, repl in _COMPILED:
        message = pattern.sub(repl, message)
    return message
