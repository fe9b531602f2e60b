"""The grader's own UI strings in Korean (``ko``) and English (``en``): page headings, column names, labels.

``strings(lang)`` returns one flat dict used by the templates as ``t.<key>``. Nothing here belongs to an
assignment: task titles, hints and figure texts come from the assignment (``assignment.toml``), check and
flag messages from the result (``messages``), both in each language.
"""

from __future__ import annotations

from typing import Any

LANGS = ("ko", "en")
# one mark per check status, in the terminal summaries (grader grade, grader check)
STATUS_MARKS = {"pass": "✔", "partial": "◐", "fail": "✘", "pending": "…", "error": "!"}

_UI: dict[str, dict[str, str]] = {
    "title_student": {"ko": "채점 보고서", "en": "Grading report"},
    "title_class": {"ko": "반 전체 채점 보고서", "en": "Class grading report"},
    "title_course": {"ko": "과목 성적표", "en": "Course gradebook"},
    "assignments": {"ko": "과제", "en": "Assignments"},
    "total": {"ko": "합계", "en": "Total"},
    "class_page": {"ko": "반 보고서", "en": "class page"},
    "not_submitted": {"ko": "미제출", "en": "not handed in"},
    "student": {"ko": "학생", "en": "Student"},
    "score": {"ko": "점수", "en": "Score"},
    "auto": {"ko": "자동 채점", "en": "auto-graded"},
    "manual_pending": {"ko": "수동 채점 대기", "en": "manual, pending"},
    "status": {"ko": "상태", "en": "Status"},
    "device": {"ko": "장치", "en": "Device"},
    "data_mode": {"ko": "데이터", "en": "Data"},
    "versions": {"ko": "버전", "en": "Versions"},
    "date": {"ko": "채점 일시", "en": "Graded at"},
    "flags": {"ko": "무결성 경고", "en": "Integrity flags"},
    "proof": {"ko": "학습 검증", "en": "Proof of training"},
    "proof_all": {"ko": "모두", "en": "all"},
    "proof_verified": {"ko": "재학습으로 검증됨", "en": "verified"},
    "proof_not_replay_verified": {"ko": "재현 불가 (점수 유지)", "en": "not replay-verified"},
    "proof_unverified": {"ko": "검증 실패", "en": "unverified"},
    "proof_none": {"ko": "–", "en": "–"},
    "proof_how": {"ko": "{n}개 구간 재학습, 최대 편차 {dev}", "en": "{n} segment(s) re-trained, max deviation {dev}"},
    "no_flags": {"ko": "무결성 경고 없음", "en": "No integrity flags"},
    "check": {"ko": "항목", "en": "Check"},
    "points": {"ko": "점수", "en": "Points"},
    "result": {"ko": "결과", "en": "Result"},
    "message": {"ko": "설명", "en": "What the grader saw"},
    "hint": {"ko": "할 일", "en": "What to do"},
    "warning": {"ko": "주의", "en": "Warning"},
    "override": {"ko": "교수자 수동 점수", "en": "Instructor override"},
    "curves": {"ko": "학습 곡선", "en": "Training curves"},
    "curves_note": {"ko": "굵은 선: epoch별 평균 loss, 가는 선: step별 loss, 회색 띠: 같은 종류의 참조 실행 "
                              "(평균 ± 3 표준편차)",
                    "en": "Thick line: mean loss per epoch, thin line: loss per step, grey band: reference run "
                          "of the same kind (mean ± 3 sd)"},
    "curves_note_steps": {"ko": "epoch 없이 학습한 실행(전체 배치 루프)은 step별 loss 로 그립니다",
                          "en": "Runs without epochs (a full-batch loop) are drawn as the loss of each step"},
    "architecture": {"ko": "모델 구조", "en": "Architecture"},
    "run": {"ko": "실행", "en": "Run"},
    "cell": {"ko": "셀", "en": "Cell"},
    "layers": {"ko": "층", "en": "Layers"},
    "widths": {"ko": "은닉층 너비", "en": "Hidden widths"},
    "activations": {"ko": "활성화 함수", "en": "Activations"},
    "params": {"ko": "파라미터 수", "en": "Parameters"},
    "optimizer": {"ko": "옵티마이저", "en": "Optimizer"},
    "lr": {"ko": "학습률", "en": "lr"},
    "steps": {"ko": "step 수", "en": "Steps"},
    "epochs": {"ko": "epoch 수", "en": "Epochs"},
    "steps_epochs": {"ko": "step / epoch", "en": "steps / epochs"},
    "accuracy": {"ko": "테스트 정확도", "en": "Test accuracy"},
    "unverified": {"ko": "미검증", "en": "unverified"},
    "gradflow": {"ko": "기울기 흐름 (초기화 직후 층별 기울기 크기)",
                 "en": "Gradient flow (per-layer gradient norm at init)"},
    "gradflow_note": {"ko": "로그 눈금. 입력 쪽(왼쪽)으로 갈수록 급격히 작아지는 선(예: Sigmoid)은 기울기 소실입니다.",
                      "en": "Log scale. A line that drops steeply towards the input layers (left), as a Sigmoid "
                            "network's does, is a vanishing gradient."},
    "layer": {"ko": "층", "en": "layer"},
    "hidden_n": {"ko": "은닉층 {n}개", "en": "{n} hidden"},
    "batch": {"ko": "batch", "en": "batch"},
    "epoch": {"ko": "epoch", "en": "epoch"},
    "step": {"ko": "step", "en": "step"},
    "loss": {"ko": "loss", "en": "loss"},
    "errors": {"ko": "오류가 난 셀", "en": "Cells that raised errors"},
    "truncated": {"ko": "(길어서 앞부분을 생략했습니다)", "en": "(long output, beginning cut)"},
    "no_runs": {"ko": "학습 기록이 없습니다.", "en": "No training was recorded."},
    "status_message": {"ko": "상태 설명", "en": "Status message"},
    "students": {"ko": "학생 목록", "en": "Students"},
    "sort_hint": {"ko": "열 제목을 누르면 정렬됩니다.", "en": "Click a column header to sort."},
    "report": {"ko": "보고서", "en": "report"},
    "histogram": {"ko": "점수 분포", "en": "Score histogram"},
    "pass_rate": {"ko": "항목별 통과율", "en": "Pass rate per check"},
    "acc_dist": {"ko": "테스트 정확도 분포와 참조 범위", "en": "Test accuracy vs the reference band"},
    "acc_note": {"ko": "회색 띠: 참조 정확도 평균 ± 3 표준편차 ({ref})",
                 "en": "Grey band: reference accuracy mean ± 3 sd ({ref})"},
    "failures": {"ko": "자주 나온 실패 사유", "en": "Most common failure messages"},
    "count": {"ko": "횟수", "en": "Count"},
    "not_run": {"ko": "실행되지 못한 제출물", "en": "Submissions that failed to run"},
    "error_split": {"ko": "오류가 난 제출물: 채점 환경 때문인가, 학생 코드 때문인가",
                    "en": "Submissions with errors: the grading environment or the student's own code"},
    "env_errors": {"ko": "채점 환경에서 실행할 수 없었던 코드 (없는 모듈·라이브러리, 없는 데이터)",
                   "en": "Could not run in the grading environment (a missing module or library, no data)"},
    "student_errors": {"ko": "학생 코드의 오류", "en": "Errors in the student's own code"},
    "kind_environment": {"ko": "채점 환경", "en": "grading environment"},
    "kind_student": {"ko": "학생 코드", "en": "student's code"},
    "follow_on": {"ko": "셀 {cell}의 오류에서 이어진 오류", "en": "follows from the error of cell {cell}"},
    "follow_ons": {"ko": "이어진 오류 {n}개", "en": "{n} follow-on error(s)"},
    "none": {"ko": "없음", "en": "none"},
    "timing": {"ko": "채점 소요 시간", "en": "Grading time"},
    "total_time": {"ko": "전체", "en": "total"},
    "sum_time": {"ko": "제출물별 합계", "en": "sum over submissions"},
    "generated": {"ko": "생성 일시", "en": "Generated at"},
    "n_students": {"ko": "제출물 수", "en": "Submissions"},
    "mean_score": {"ko": "평균 점수", "en": "Mean score"},
    "late": {"ko": "지각", "en": "Late"},
    "similarity": {"ko": "유사도", "en": "Similarity"},
    "similarity_score": {"ko": "유사도 점수", "en": "Similarity score"},
    "similarity_note": {"ko": "시작 코드를 뺀 코드 셀 비교와 학습 기록(같은 손실 값 열, 같은 가중치 지문)입니다. "
                                "점수는 바꾸지 않습니다: 사람이 판단하세요.",
                        "en": "Code cells compared without the starter code, plus training records (identical loss "
                              "sequences, identical weights fingerprints). Scores are not changed: a person decides."},
    "similarity_none": {"ko": "유사도 분석 없음 (grader batch 후에 생성)", "en": "No similarity analysis (written by "
                                                                                "grader batch)"},
    "flagged": {"ko": "표시됨", "en": "flagged"},
    "due": {"ko": "마감", "en": "Due"},
    "submitted_at": {"ko": "제출 시각", "en": "Submitted"},
    "days_late": {"ko": "지각 일수", "en": "Days late"},
    "penalty": {"ko": "감점", "en": "Penalty"},
    "after_penalty": {"ko": "감점 후 총점", "en": "Total after penalty"},
    "extension": {"ko": "연장", "en": "Extension"},
    "days": {"ko": "일", "en": "day(s)"},
    "penalty_override": {"ko": "감점 조정", "en": "Penalty set by hand"},
    "released": {"ko": "피드백 공개됨", "en": "Feedback released"},
    "not_released": {"ko": "피드백 미공개", "en": "Feedback not released"},
    "no_baseline": {"ko": "참조 기준이 없습니다.", "en": "No reference baseline."},
    "pass": {"ko": "통과", "en": "pass"},
    "partial": {"ko": "부분 점수", "en": "partial"},
    "fail": {"ko": "실패", "en": "fail"},
    "pending": {"ko": "대기", "en": "pending"},
    "error": {"ko": "채점 오류", "en": "grader error"},
    "graded": {"ko": "채점 완료", "en": "graded"},
    "errors_status": {"ko": "일부 셀 오류", "en": "some cells raised"},
    "timeout": {"ko": "시간 초과", "en": "timeout"},
    "kernel_died": {"ko": "커널 중단", "en": "kernel died"},
    "invalid": {"ko": "채점 불가", "en": "invalid"},
    "diagnoses": {"ko": "학습에서 일어난 일", "en": "What happened in training"},
    "diagnoses_note": {"ko": "채점기가 기록한 증거(step, 값)로 찾은 원인입니다. 점수는 바꾸지 않습니다.",
                       "en": "Causes found from the evidence the grader recorded (steps, values). "
                             "They change no points."},
    "no_diagnoses": {"ko": "학습 과정에서 눈에 띄는 문제를 찾지 못했습니다.",
                     "en": "Nothing went wrong in training that the grader could see."},
    "cause": {"ko": "원인", "en": "Why"},
    "lecture": {"ko": "강의", "en": "Lecture"},
    "evidence": {"ko": "증거", "en": "Evidence"},
    "sev_error": {"ko": "오류", "en": "error"},
    "sev_warning": {"ko": "주의", "en": "warning"},
    "sev_info": {"ko": "참고", "en": "info"},
}

#: short names of the training-loop doctor's findings (grader/diagnosis), for check lines and headings
DIAGNOSIS_NAMES: dict[str, dict[str, str]] = {
    "grad_not_zeroed": {"ko": "기울기를 0 으로 초기화하지 않음 (zero_grad 없음)",
                        "en": "Gradients never zeroed (no zero_grad)"},
    "grad_zeroed_before_step": {"ko": "step() 전에 기울기가 지워짐 (zero_grad/step 순서)",
                                "en": "Gradients cleared before step() (zero_grad/step order)"},
    "lr_too_high": {"ko": "학습률이 너무 큼", "en": "Learning rate too high"},
    "chance_plateau": {"ko": "loss 가 무작위 수준 ln(C) 에 머묾", "en": "Loss stuck at the chance plateau ln(C)"},
    "exploding_gradients": {"ko": "기울기 폭주", "en": "Exploding gradients"},
    "dead_relu": {"ko": "죽은 ReLU 유닛 (dying ReLU)", "en": "Dead ReLU units"},
    "inputs_not_scaled": {"ko": "입력을 0–1 로 스케일하지 않음", "en": "Inputs not scaled (pixels 0–255)"},
    "test_preprocessing_differs": {"ko": "테스트 전처리가 학습과 다름",
                                   "en": "Test preprocessing differs from training"},
    "train_mode_eval": {"ko": "학습 모드로 테스트 정확도 측정", "en": "Test accuracy measured in training mode"},
    "dropout_ignores_eval": {"ko": "eval 모드에서도 켜지는 dropout", "en": "Dropout still active in eval mode"},
    "softmax_before_ce": {"ko": "loss 앞의 softmax", "en": "Softmax before the loss"},
    "activation_after_output": {"ko": "출력층 뒤의 활성화 함수", "en": "Activation after the output layer"},
    "avg_cost_outside_loop": {"ko": "avg_cost 누적이 루프 밖에 있음", "en": "avg_cost summed outside the loop"},
    "empty_batches": {"ko": "빈 배치로 학습 (NaN loss)", "en": "Training on empty batches (NaN loss)"},
    "trained_on_test": {"ko": "테스트 데이터로 학습", "en": "Trained on the test split"},
    "task_cell_error": {"ko": "과제 셀에서 오류", "en": "A task's own cell raised an error"},
    "pip_missing": {"ko": "채점 환경에 없는 pip 패키지", "en": "A pip package the grading environment does not have"},
    "colab_environment": {"ko": "Colab 대신 채점기가 제공한 것", "en": "What the grader gave in place of Colab"},
    "library_missing": {"ko": "채점 환경에 없는 라이브러리", "en": "A library the grading environment does not have"},
    "full_size_assumed": {"ko": "전체 데이터 크기를 직접 쓴 셀", "en": "A cell that writes the full data set's size"},
    "old_loss_data_index": {"ko": "옛 PyTorch 의 loss.data[0]", "en": "Old PyTorch's loss.data[0]"},
    "torch_load_whole_model": {"ko": "모델 객체 전체를 torch.load", "en": "Whole model reloaded with torch.load"},
    "numpy_alias_removed": {"ko": "NumPy 에서 없어진 np.float 등", "en": "np.float and friends removed from NumPy"},
    "tqdm_notebook_widgets": {"ko": "위젯 없는 채점 환경의 tqdm.notebook",
                              "en": "tqdm.notebook without widgets in the grading environment"},
    "dataloader_iter_next": {"ko": "파이썬 2 의 iterator.next()", "en": "Python 2's iterator.next()"},
    "matplotlib_seaborn_style": {"ko": "이름이 바뀐 matplotlib 'seaborn' 스타일",
                                 "en": "matplotlib's renamed 'seaborn' style"},
    "pandas_append_removed": {"ko": "pandas 에서 없어진 DataFrame.append",
                              "en": "DataFrame.append removed from pandas"},
    "torchvision_scale": {"ko": "transforms.Scale → Resize", "en": "transforms.Scale → Resize"},
    "init_without_underscore": {"ko": "_ 없는 옛 nn.init 함수", "en": "Old nn.init names without _"},
    "set_default_tensor_type": {"ko": "권장되지 않는 set_default_tensor_type",
                                "en": "Deprecated set_default_tensor_type"},
    "variable_wrapper": {"ko": "필요 없는 Variable(...)", "en": "Variable(...) no longer needed"},
    "volatile_removed": {"ko": "효과 없는 volatile=True", "en": "volatile=True has no effect"},
    "mnist_old_attributes": {"ko": "MNIST 의 옛 이름 (.train_data 등)", "en": "Old MNIST names (.train_data, ...)"},
    "loss_size_average": {"ko": "loss 의 옛 인자 size_average/reduce", "en": "Old loss arguments size_average/reduce"},
    "softmax_implicit_dim": {"ko": "dim 없는 softmax", "en": "softmax without dim"},
    "torch_range": {"ko": "곧 없어질 torch.range", "en": "Deprecated torch.range"},
    "cell_does_not_parse": {"ko": "Python 3 로 읽히지 않는 셀", "en": "A cell that is not valid Python 3"},
    "cells_run_out_of_order": {"ko": "순서가 뒤섞인 셀 실행", "en": "Cells run out of order"},
    "name_defined_later": {"ko": "아래 셀에서 정의된 이름", "en": "A name defined in a later cell"},
    "progress_bar_only": {"ko": "진행 막대로만 보인 학습", "en": "Training progress shown only in a progress bar"},
}
SEVERITY_MARKS = {"error": "✖", "warning": "⚠", "info": "ℹ"}

FLAG_NAMES: dict[str, dict[str, str]] = {
    "trained_on_test": {"ko": "테스트 데이터로 학습", "en": "Trained on the test set"},
    "probe_tampered": {"ko": "채점 장치 변조", "en": "Grader probe tampered with"},
    "step_mismatch": {"ko": "옵티마이저 step 조작", "en": "Optimizer steps faked"},
    "no_training_evidence": {"ko": "학습 증거 없는 실행 (기록 위조)", "en": "Recorded run without training evidence"},
    "weights_mismatch": {"ko": "내보낸 가중치가 학습 기록과 다름", "en": "Exported weights contradict training"},
    "training_unverified": {"ko": "학습 재현 검증 실패", "en": "Training failed the grader's re-execution"},
    "accuracy_at_chance": {"ko": "출력된 정확도와 달리 실제 정확도는 무작위 수준",
                           "en": "Printed accuracy high, measured at chance"},
    "printed_numbers": {"ko": "출력된 수치가 기록과 다름", "en": "Printed numbers contradict the recording"},
    "notebook_errors": {"ko": "노트북 셀 오류", "en": "Notebook cells raised errors"},
    "requires_cuda": {"ko": "CUDA 필요", "en": "Requires CUDA"},
    "timeout": {"ko": "시간 초과", "en": "Timeout"},
    "kernel_died": {"ko": "커널 중단", "en": "Kernel died"},
}


def check_lang(lang: str) -> str:
    """``lang`` if supported, else ValueError."""
    if lang not in LANGS:
        raise ValueError(f"unsupported report language {lang!r}; use one of {', '.join(LANGS)}")
    return lang


def strings(lang: str) -> dict[str, str]:
    """All UI strings for ``lang`` as a flat dict."""
    check_lang(lang)
    return {key: texts[lang] for key, texts in _UI.items()}


def flag_name(flag_id: str, lang: str) -> str:
    """Localised name of an integrity flag."""
    return FLAG_NAMES.get(flag_id, {}).get(lang, flag_id)


def diagnosis_name(diag_id: str, lang: str) -> str:
    """Short localised name of a training-loop finding (its id when unknown)."""
    return DIAGNOSIS_NAMES.get(diag_id, {}).get(lang, diag_id)


def diagnosis_lines(diagnosis: dict[str, Any], lang: str) -> list[str]:
    """A finding as plain text lines: mark, name and message; what to do; the lecture pointer."""
    mark = SEVERITY_MARKS.get(str(diagnosis.get("severity")), "•")
    message = (diagnosis.get("message") or {}).get(lang) or ""
    lines = [f"{mark} {diagnosis_name(str(diagnosis.get('id')), lang)}: {message}"]
    todo = (diagnosis.get("todo") or {}).get(lang)
    if todo:
        lines.append(f"  → {_UI['hint'][lang]}: {todo}")
    if diagnosis.get("lecture"):
        lines.append(f"  📖 {_UI['lecture'][lang]}: {diagnosis['lecture']}")
    return lines


def explained_by(check: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result's findings a check lists under ``diagnoses`` (by ref), in the result's order."""
    refs = set(check.get("diagnoses") or [])
    return [d for d in result.get("diagnoses") or [] if d.get("ref") in refs]


def status_label(status: str, lang: str) -> str:
    """Localised label of a check status or submission status."""
    key = "errors_status" if status == "errors" else status
    return _UI.get(key, {}).get(lang, status)
