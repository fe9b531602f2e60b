"""The folders tell the data flow: no module imports a later stage, and the library never prints.

submission → execution → recording → evaluation → diagnosis → checks → scoring → result → store → report, with
the assignment's configuration, errors and bilingual text first, and the orchestration (pipeline, integrations,
batch, CLI) last. Imports under ``if TYPE_CHECKING:`` are annotations only and do not count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "grader"
STAGES: list[tuple[str, ...]] = [
    ("grader", "grader.errors", "grader.text", "grader.assignment"),
    ("grader.data", "grader.reference"),
    ("grader.submission",),
    ("grader.execution",),
    ("grader.recording",),
    ("grader.evaluation",),
    ("grader.diagnosis",),
    ("grader.checks", "grader.api"),
    ("grader.scoring",),
    ("grader.result",),
    ("grader.store",),
    ("grader.report",),
    ("grader.review",),
    ("grader.pipeline", "grader.fallback", "grader.overlap", "grader.integrations", "grader.validate",
     "grader.scaffold"),
    ("grader.batch",),
    ("grader.cli", "grader.__main__"),
]


def stage(module: str) -> int:
    """The rank of a grader module: its longest matching stage prefix."""
    best, rank = -1, -1
    for i, names in enumerate(STAGES):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, rank = len(name), i
    assert rank >= 0, f"{module} belongs to no stage: add it to STAGES"
    return rank


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every grader import of a file, outside TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("grader")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader") and not node.level:
            names = [f"{node.module}.{a.name}" for a in node.names]
            out += [(node.lineno, n if n.removeprefix(node.module + ".") and (PACKAGE.parent / n.replace(".", "/"))
                     .exists() else node.module) for n in names]
    return out


def test_no_module_imports_a_later_stage() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = _module_name(path)
        for line, target in imports(path):
            if stage(target) > stage(me):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target} (stage {stage(target)} > {stage(me)})")
    assert not bad, "\n".join(bad)


def test_the_probe_imports_only_the_standard_library_and_torch() -> None:
    allowed = set(sys.stdlib_module_names) | {"torch", "_grader_probe", "__future__"}
    for path in sorted((PACKAGE / "recording").glob("probe*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top.startswith("_grader_probe"), f"{path.name}: imports {name}"


def test_ruff_keeps_print_out_of_the_library() -> None:
    """ruff's T20 rule is on for grader/ (the CLI is the only place that prints)."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "T20", "grader"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    toml = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"T20"' in toml and 'grader/cli/*' in toml
