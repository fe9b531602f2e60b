"""Old code, explained: idioms from tutorials written for older PyTorch, torchvision and NumPy, with the fix.

Each :class:`Migration` is read from the evidence of the grader's own run of the notebook: the error a cell
recorded (``loss.data[0]`` → IndexError, a whole model reloaded under ``weights_only`` → UnpicklingError), the
warning it printed to stderr (``volatile=True``, ``.train_data``), or, for an old API that warns no more, its
source (``Variable(...)``). A crash is an ``error`` at that cell; an old API that still works is ``info``.
Nothing here judges the student: the messages say what changed in the library and what to write today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis.cells import code_sources, stderr, task_sections
from grader.diagnosis.model import Diagnosis, DiagnosisInput, Severity
from grader.text import Text, text

_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")
_FIELD = re.compile(r"\{(\w+)\}")
_NUMPY_TYPES = {"float": "np.float64", "int": "np.int64", "bool": "np.bool_", "object": "np.object_",
                "complex": "np.complex128", "str": "np.str_", "long": "np.int64", "unicode": "np.str_"}


@dataclass(frozen=True)
class Migration:
    """One old idiom: how it shows in the evidence, what changed ({cell}/{cells}, {line}, the named groups of
    the matched error or warning), and the fix."""

    id: str
    severity: Severity
    what: Text
    todo: Text
    source: re.Pattern[str]                 # the code it concerns (names the line; alone: see source_alone)
    error: re.Pattern[str] | None = None    # searched in "ename: evalue" of a cell's recorded error
    warning: re.Pattern[str] | None = None  # searched in what the cell wrote to stderr
    source_alone: bool = False              # the source match suffices (an API that no longer warns)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "old_loss_data_index", "error",
        text("cell {cell}{line} reads a number with `.data[0]`, as tutorials for PyTorch before 0.4 did: a loss is "
             "now a 0-dim tensor, which has no element [0], so the cell stopped with IndexError",
             "셀 {cell}{line}에서 PyTorch 0.4 이전 튜토리얼처럼 `.data[0]` 으로 값을 읽습니다: 지금의 loss 는 "
             "0차원 텐서라 [0] 번째 원소가 없어서 IndexError 로 멈췄습니다"),
        text("Use `.item()` instead: `loss.item()` (e.g. `avg_cost += loss.item() / total_batch`).",
             "대신 `.item()` 을 쓰세요: `loss.item()` (예: `avg_cost += loss.item() / total_batch`)."),
        re.compile(r"\.data\s*\[\s*0\s*\]"), error=re.compile(r"IndexError: invalid index of a 0-dim tensor")),
    Migration(
        "torch_load_whole_model", "error",
        text("cell {cell}{line} loads a whole pickled model with `torch.load`: since PyTorch 2.6 `torch.load` reads "
             "only tensors by default (`weights_only=True`), so a model saved with `torch.save(model, ...)` no longer "
             "loads (UnpicklingError: Weights only load failed)",
             "셀 {cell}{line}에서 `torch.load` 로 모델 객체 전체를 불러옵니다: PyTorch 2.6 부터 `torch.load` 는 "
             "기본으로 텐서만 읽기 때문에 (`weights_only=True`) `torch.save(model, ...)` 로 저장한 모델은 더 이상 "
             "불러와지지 않습니다 (UnpicklingError: Weights only load failed)"),
        text("Save the weights, not the model object: `torch.save(model.state_dict(), 'model.pt')`, and load them "
             "into a new model: `model = MyModel(); model.load_state_dict(torch.load('model.pt'))`. The grader never "
             "loads a file with `weights_only=False` (that would run code stored in the file).",
             "모델 객체가 아니라 가중치를 저장하세요: `torch.save(model.state_dict(), 'model.pt')`, 그리고 새 모델에 "
             "불러오세요: `model = MyModel(); model.load_state_dict(torch.load('model.pt'))`. 채점기는 파일을 "
             "`weights_only=False` 로 읽지 않습니다 (파일 안의 코드를 실행하게 되기 때문입니다)."),
        re.compile(r"torch\.load\s*\("), error=re.compile(r"UnpicklingError: Weights only load failed")),
    Migration(
        "numpy_alias_removed", "error",
        text("cell {cell}{line} uses `np.{alias}`, an alias of the built-in `{alias}` that NumPy removed in 1.24, so "
             "the cell stopped with AttributeError",
             "셀 {cell}{line}에서 `np.{alias}` 를 씁니다: 내장 `{alias}` 의 별칭이었는데 NumPy 1.24 에서 "
             "없어져서 AttributeError 로 멈췄습니다"),
        text("Write the built-in `{alias}` (or NumPy's own type, `{numpy_type}`).",
             "내장 `{alias}` 를 쓰세요 (또는 NumPy 의 자료형 `{numpy_type}`)."),
        re.compile(r"\bnp\.(?:float|int|bool|object|complex|str|long|unicode)\b"),
        error=re.compile(r"AttributeError: module 'numpy' has no attribute "
                         r"'(?P<alias>float|int|bool|object|complex|str|long|unicode)'")),
    Migration(
        "tqdm_notebook_widgets", "warning",
        text("cell {cell}{line} draws a `tqdm.notebook` progress bar, which needs Jupyter widgets (ipywidgets); the "
             "grading environment has none, so the cell stopped with ImportError. This is not a mistake in your code",
             "셀 {cell}{line}에서 `tqdm.notebook` 진행 막대를 그리는데, 이것은 Jupyter 위젯 (ipywidgets) 이 "
             "필요합니다. 채점 환경에는 위젯이 없어서 그 셀이 ImportError 로 멈췄습니다. 코드의 잘못이 아닙니다"),
        text("Use `from tqdm.auto import tqdm`: it draws the widget bar in Jupyter and Colab and a text bar where "
             "widgets are missing, so the cell runs everywhere.",
             "`from tqdm.auto import tqdm` 을 쓰세요: Jupyter 와 Colab 에서는 위젯 막대를, 위젯이 없는 곳에서는 "
             "텍스트 막대를 그리므로 어디서나 실행됩니다."),
        re.compile(r"tqdm|trange"), error=re.compile(r"ImportError: IProgress not found")),
    Migration(
        "dataloader_iter_next", "error",
        text("cell {cell}{line} calls `.next()` on a DataLoader iterator, as Python 2 code did: Python 3 iterators "
             "have no `.next` method, so the cell stopped with AttributeError",
             "셀 {cell}{line}에서 파이썬 2 코드처럼 DataLoader 반복자에 `.next()` 를 호출합니다: 파이썬 3 의 "
             "반복자에는 `.next` 메서드가 없어서 AttributeError 로 멈췄습니다"),
        text("Use the built-in `next`: `images, labels = next(iter(data_loader))`.",
             "내장 함수 `next` 를 쓰세요: `images, labels = next(iter(data_loader))`."),
        re.compile(r"\.next\s*\(\s*\)"),
        error=re.compile(r"AttributeError: '_\w*DataLoaderIter' object has no attribute 'next'")),
    Migration(
        "matplotlib_seaborn_style", "error",
        text("cell {cell}{line} asks matplotlib for the style `'seaborn{rest}'`, which matplotlib 3.6 renamed, so the "
             "cell stopped with OSError (the plot was not drawn)",
             "셀 {cell}{line}에서 matplotlib 스타일 `'seaborn{rest}'` 를 쓰는데, matplotlib 3.6 에서 이름이 바뀌어 "
             "OSError 로 멈췄습니다 (그래프가 그려지지 않았습니다)"),
        text("Write `plt.style.use('seaborn-v0_8{rest}')` (the same look), or drop the line.",
             "`plt.style.use('seaborn-v0_8{rest}')` 로 쓰거나 (같은 모양), 그 줄을 지우세요."),
        re.compile(r"style\.use\s*\("),
        error=re.compile(r"OSError: 'seaborn(?P<rest>[\w-]*)' is not a valid package style")),
    Migration(
        "pandas_append_removed", "error",
        text("cell {cell}{line} calls `{kind}.append`, which pandas 2.0 removed, so the cell stopped with "
             "AttributeError",
             "셀 {cell}{line}에서 pandas 2.0 에서 없어진 `{kind}.append` 를 호출해서 AttributeError 로 멈췄습니다"),
        text("Collect the rows in a list and build the table once (`pd.DataFrame(rows)`), or use "
             "`pd.concat([df, pd.DataFrame([row])], ignore_index=True)`.",
             "행들을 리스트에 모아 한 번에 표를 만들거나 (`pd.DataFrame(rows)`), "
             "`pd.concat([df, pd.DataFrame([row])], ignore_index=True)` 를 쓰세요."),
        re.compile(r"\.append\s*\("),
        error=re.compile(r"AttributeError: '(?P<kind>DataFrame|Series)' object has no attribute 'append'")),
    Migration(
        "torchvision_scale", "error",
        text("cell {cell}{line} uses `transforms.Scale`, which torchvision renamed `transforms.Resize` (0.2) and then "
             "removed, so the cell stopped with AttributeError",
             "셀 {cell}{line}에서 `transforms.Scale` 을 씁니다: torchvision 이 `transforms.Resize` 로 이름을 바꾼 뒤 "
             "없앴기 때문에 AttributeError 로 멈췄습니다"),
        text("Write `transforms.Resize(...)` with the same arguments.",
             "같은 인자로 `transforms.Resize(...)` 를 쓰세요."),
        re.compile(r"\bScale\s*\("),
        error=re.compile(r"AttributeError: module 'torchvision.transforms' has no attribute 'Scale'")),
    Migration(
        "variable_wrapper", "info",
        text("in {cells}, tensors are wrapped in `Variable(...)` (`torch.autograd.Variable`): since PyTorch 0.4 every "
             "tensor is a Variable, so the wrapper still works but does nothing",
             "{cells}에서 텐서를 `Variable(...)` (`torch.autograd.Variable`) 로 감쌉니다: PyTorch 0.4 부터 모든 "
             "텐서가 Variable 이라서 여전히 동작하지만 아무 일도 하지 않습니다"),
        text("Use the tensors directly (drop `Variable(...)` and its import); where a tensor needs gradients, "
             "create it with `requires_grad=True` or call `x.requires_grad_()`.",
             "텐서를 그대로 쓰세요 (`Variable(...)` 과 그 import 를 지우세요). 기울기가 필요한 텐서는 "
             "`requires_grad=True` 로 만들거나 `x.requires_grad_()` 를 호출하세요."),
        re.compile(r"(?:\bautograd\.|(?<![\w.]))Variable\s*\("), source_alone=True),
    Migration(
        "volatile_removed", "info",
        text("in {cells}, `volatile=True` is passed, which PyTorch removed in 0.4: it has no effect now, so gradients "
             "are still tracked there (more memory, same results)",
             "{cells}에서 `volatile=True` 를 넘기는데, PyTorch 0.4 에서 없어진 인자라 지금은 아무 효과가 없습니다. "
             "그래서 그곳에서도 기울기가 계속 추적됩니다 (메모리를 더 쓰고, 결과는 같습니다)"),
        text("Remove `volatile=True` and put evaluation code under `with torch.no_grad():`.",
             "`volatile=True` 를 지우고 평가 코드를 `with torch.no_grad():` 안에 넣으세요."),
        re.compile(r"volatile\s*=\s*True"), warning=re.compile(r"volatile was removed"), source_alone=True),
    Migration(
        "mnist_old_attributes", "info",
        text("in {cells}, MNIST is read through `.train_data`/`.test_data`/`.train_labels`/`.test_labels`, the names "
             "of old torchvision versions: they still work, with a warning that they were renamed",
             "{cells}에서 MNIST 를 옛 torchvision 의 이름인 `.train_data`/`.test_data`/`.train_labels`/"
             "`.test_labels` 로 읽습니다: 여전히 동작하지만 이름이 바뀌었다는 경고가 나옵니다"),
        text("Use the current names: `.data` for the images and `.targets` for the labels (e.g. "
             "`mnist_test.data`, `mnist_test.targets`).",
             "지금의 이름을 쓰세요: 이미지는 `.data`, 레이블은 `.targets` (예: `mnist_test.data`, "
             "`mnist_test.targets`)."),
        re.compile(r"\.(?:train|test)_(?:data|labels)\b"),
        warning=re.compile(r"(?:train|test)_(?:data|labels) has been renamed (?:data|targets)")),
    Migration(
        "loss_size_average", "info",
        text("in {cells}, a loss is given `size_average=` or `reduce=`, arguments PyTorch replaced by `reduction=`: "
             "they still work, with a warning",
             "{cells}에서 loss 에 `size_average=` 나 `reduce=` 를 넘깁니다: PyTorch 가 `reduction=` 으로 바꾼 "
             "인자라 경고와 함께 여전히 동작합니다"),
        text("Write `reduction='{reduction}'` instead.", "대신 `reduction='{reduction}'` 을 쓰세요."),
        re.compile(r"\b(?:size_average|reduce)\s*="),
        warning=re.compile(r"size_average and reduce args will be deprecated, "
                           r"please use reduction='(?P<reduction>\w+)'")),
    Migration(
        "softmax_implicit_dim", "info",
        text("in {cells}, `{fn}` is called without `dim=`: PyTorch guesses the dimension (dim=1 for a batch of "
             "outputs, dim=0 for a 1-D or 3-D input) and warns that the guess is deprecated",
             "{cells}에서 `dim=` 없이 `{fn}` 를 호출합니다: PyTorch 가 차원을 추측하고 (출력 배치에는 dim=1, "
             "1차원이나 3차원 입력에는 dim=0) 그 추측은 곧 없어진다고 경고합니다"),
        text("Name the class dimension: `{fn}(x, dim=1)` for outputs of shape (batch, classes).",
             "클래스 차원을 적으세요: (batch, classes) 모양의 출력에는 `{fn}(x, dim=1)`."),
        re.compile(r"softm(?:ax|in)\s*\("),
        warning=re.compile(r"Implicit dimension choice for (?P<fn>\w+) has been deprecated")),
    Migration(
        "init_without_underscore", "info",
        text("in {cells}, weights are initialised with `nn.init.{old}`, the old name of `nn.init.{new}` (it still "
             "works, with a warning)",
             "{cells}에서 `nn.init.{new}` 의 옛 이름인 `nn.init.{old}` 로 가중치를 초기화합니다 (경고와 함께 "
             "여전히 동작합니다)"),
        text("Write `nn.init.{new}(...)`: the trailing `_` marks that it fills the tensor in place.",
             "`nn.init.{new}(...)` 로 쓰세요: 끝의 `_` 는 텐서를 제자리에서 채운다는 표시입니다."),
        re.compile(r"init\.\w+[a-z]\s*\("),
        warning=re.compile(r"`nn\.init\.(?P<old>\w+)` is now deprecated in favor of `nn\.init\.(?P<new>\w+)`")),
    Migration(
        "set_default_tensor_type", "info",
        text("in {cells}, `torch.set_default_tensor_type` is called, which PyTorch 2.1 deprecated (it still works, "
             "with a warning)",
             "{cells}에서 PyTorch 2.1 부터 권장되지 않는 `torch.set_default_tensor_type` 을 호출합니다 (경고와 함께 "
             "여전히 동작합니다)"),
        text("Use `torch.set_default_dtype(torch.float32)` for the type and `torch.set_default_device('cuda')` for "
             "the device, or simply move tensors with `.to(device)`.",
             "자료형은 `torch.set_default_dtype(torch.float32)`, 장치는 `torch.set_default_device('cuda')` 로 "
             "정하거나, 텐서를 `.to(device)` 로 옮기세요."),
        re.compile(r"set_default_tensor_type\s*\("), warning=re.compile(r"set_default_tensor_type\(\) is deprecated"),
        source_alone=True),
    Migration(
        "torch_range", "info",
        text("in {cells}, `torch.range` is used, which is deprecated: unlike Python's `range` it includes its end "
             "value",
             "{cells}에서 `torch.range` 를 씁니다: 곧 없어질 함수이고, 파이썬의 `range` 와 달리 끝 값을 포함합니다"),
        text("Use `torch.arange(start, end + 1)` for the same values (`arange` stops before `end`, like `range`).",
             "같은 값은 `torch.arange(start, end + 1)` 로 만드세요 (`arange` 는 `range` 처럼 `end` 앞에서 "
             "멈춥니다)."),
        re.compile(r"torch\.range\s*\("), warning=re.compile(r"torch\.range is deprecated"), source_alone=True),
)


def old_apis(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """Every old idiom the grader's run of the notebook shows, with the fix (see :data:`MIGRATIONS`)."""
    if inp.execution is None:
        return []
    out: list[Diagnosis] = []
    for m in MIGRATIONS:
        out.extend(_crashes(inp, m) if m.error is not None else _still_works(inp, m))
    return out


def error_hints() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(pattern of "ename evalue", short fix) for the result's one-sentence message (``grader.result.build``)."""
    hints = {"old_loss_data_index": "old PyTorch's loss.data[0]: use loss.item()",
             "torch_load_whole_model": "a whole model saved with torch.save(model): save model.state_dict() and "
                                       "load it with load_state_dict",
             "numpy_alias_removed": "np.float/np.int were removed from NumPy: use float/int",
             "dataloader_iter_next": "Python 2's it.next(): use next(it)",
             "matplotlib_seaborn_style": "matplotlib renamed the 'seaborn' styles: use 'seaborn-v0_8'",
             "pandas_append_removed": "pandas 2 removed DataFrame.append: use pd.concat",
             "torchvision_scale": "transforms.Scale is now transforms.Resize",
             "tqdm_notebook_widgets": "tqdm.notebook needs ipywidgets, which the grading environment lacks: "
                                      "use tqdm.auto"}
    found = tuple((re.compile(m.error.pattern.replace(": ", " ", 1)), hints[m.id]) for m in MIGRATIONS
                  if m.error is not None and m.id in hints)
    return (*found, (re.compile(r"SyntaxError Missing parentheses in call to 'print'"),
                     "Python 2's print statement: write print(...)"))


def _crashes(inp: DiagnosisInput, m: Migration) -> list[Diagnosis]:
    """One finding per cell whose recorded error is this idiom's."""
    assert inp.execution is not None and m.error is not None
    sources, sections, out = code_sources(inp), task_sections(inp), []
    for cell in inp.execution.cells:
        error = cell.error or {}
        found = m.error.search(f"{error.get('ename', '')}: {error.get('evalue', '')}")
        if not found:
            continue
        src = sources.get(cell.index, "")
        tb = _LINE.search(str(error.get("traceback") or ""))
        line = _source_line(src, m.source) or (int(tb.group(1)) if tb else None)
        fields = _fields(found.groupdict(), cell=cell.index, line=line)
        evidence = {"cell_index": cell.index, "task": sections.get(cell.index), "ename": error.get("ename"),
                    "line": line,
                    "evalue": (str(error.get("evalue") or "").strip().splitlines() or [""])[0][:200],
                    **found.groupdict()}
        # no ``task``: the task's own ``task_cell_error`` for this cell ties it to the checks (it knows which
        # runs trained before the cell failed); this finding names the cause and the fix
        out.append(Diagnosis(m.id, m.severity, _fill(m.what, fields), _fill(m.todo, fields), evidence,
                             cell_index=cell.index))
    return out


def _still_works(inp: DiagnosisInput, m: Migration) -> list[Diagnosis]:
    """One finding naming every cell that uses this idiom (warned when it ran, or by its source)."""
    assert inp.execution is not None
    ran = {c.index for c in inp.execution.cells if c.status != "not_run"}
    groups: dict[str, Any] = {}
    warned = []
    for i in sorted(ran):
        found = m.warning.search(stderr(inp, i)) if m.warning is not None else None
        if found:
            warned.append(i)
            groups = groups or found.groupdict()
    if m.warning is not None and not warned and not m.source_alone:
        return []
    used = [i for i, src in code_sources(inp).items() if i in ran and m.source.search(src)]
    cells = sorted(set(warned) | set(used))
    if not cells:
        return []
    first = cells[0]
    fields = _fields(groups, cell=first, line=_source_line(code_sources(inp).get(first, ""), m.source),
                     cells=cells)
    if set(_FIELD.findall(m.what["en"] + m.todo["en"])) - set(fields):
        return []  # a value only the warning gives (e.g. the reduction to write) is not known
    evidence = {"cell_index": first, "cells": cells, "warned_cells": warned, **groups}
    return [Diagnosis(m.id, m.severity, _fill(m.what, fields), _fill(m.todo, fields), evidence,
                      task=task_sections(inp).get(first), cell_index=first)]


def _source_line(source: str, pattern: re.Pattern[str]) -> int | None:
    """1-based line of the first match in a cell's source."""
    found = pattern.search(source)
    return source.count("\n", 0, found.start()) + 1 if found else None


def _fields(groups: dict[str, Any], cell: int, line: int | None, cells: list[int] | None = None) -> dict[str, Text]:
    """The message fields in both languages: {cell}, {cells}, {line} and the matched groups."""
    out: dict[str, Text] = {k: text(str(v)) for k, v in groups.items() if v is not None}
    out["cell"] = text(str(cell))
    out["line"] = text(f" (line {line})", f" ({line}번째 줄)") if line else text("")
    listed = cells or [cell]
    out["cells"] = text(f"cell {listed[0]}" if len(listed) == 1 else
                        f"cells {', '.join(str(c) for c in listed)}",
                        f"셀 {', '.join(str(c) for c in listed)}")
    if "alias" in groups:
        out["numpy_type"] = text(_NUMPY_TYPES.get(str(groups["alias"]), "np.float64"))
    return out


def _fill(template: Text, fields: dict[str, Text]) -> Text:
    """``template`` with its {fields} filled in each language (missing fields left as written)."""
    def one(lang: str) -> str:
        values = {k: v[lang] for k, v in fields.items()}  # type: ignore[literal-required]
        return _FIELD.sub(lambda mt: values.get(mt.group(1), mt.group(0)), template[lang])  # type: ignore[literal-required]
    return text(one("en"), one("ko"))
