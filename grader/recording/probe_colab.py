"""IN THE KERNEL (standard library only): a notebook exported from Colab runs as it is.

Loaded by the set-up cell beside the probe (``grader/execution/instrument.py``) and installed after it:

* ``google.colab`` imports (an import hook at the end of ``sys.meta_path``, only where no real ``google.colab``
  exists): ``drive.mount(path)`` makes ``path/MyDrive`` an empty folder and says in one line that the grader has
  no Google Drive (inside the sandbox ``/content`` is a private writable folder; outside it nothing is written to
  ``/``: the folder is made relative to the working folder), ``drive.flush_and_unmount()`` does nothing,
  ``files.upload()`` returns ``{}``, ``files.download(...)`` does nothing, ``patches.cv2_imshow(img)`` displays
  the image (a PNG written here, no PIL or cv2 needed); ``output``, ``data_table`` and ``auth`` are harmless.
* ``!pip install X`` / ``%pip install X`` / ``!pip3 ...`` / ``!python -m pip ...`` never reach the network: a
  package already installed is a quiet success; an absent one prints one line and becomes a ``pip_missing``
  event that the grader's doctor reports ("the grading environment has no X"). Every other shell command runs
  as in Jupyter (the IPython shell's ``system`` / ``getoutput`` are wrapped, not replaced).

Events go through the probe's stream as ``doctor`` events (``kind`` ``env_setup``, ``env_colab``, ``pip``).
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import re
import shlex
import struct
import sys
import types
import zlib
from typing import Any

_probe: Any = None
_cfg: dict[str, Any] = {}
_originals: dict[str, Any] = {}
_SUBMODULES = ("drive", "files", "patches", "output", "data_table", "auth", "widgets")
_WITH_VALUE = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f",
               "--find-links", "-t", "--target", "--prefix", "--root", "--trusted-host", "--upgrade-strategy",
               "--progress-bar", "--python-version", "--platform", "--only-binary", "--no-binary", "--src",
               "--implementation", "--abi", "--log", "--cache-dir", "--proxy", "--timeout", "--retries"}
_IMPORT_NAMES = {"scikit-learn": "sklearn", "pillow": "PIL", "opencv-python": "cv2", "opencv-python-headless": "cv2",
                 "opencv-contrib-python": "cv2", "pyyaml": "yaml", "beautifulsoup4": "bs4", "tensorflow-gpu":
                 "tensorflow", "torch-summary": "torchsummary", "python-dateutil": "dateutil"}
_REDIRECT = re.compile(r"^(?:\d|&)?>")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
NO_DRIVE = ("Mounted at {path} -- the grader has no Google Drive: an empty folder{where} / "
            "채점 환경에는 Google Drive가 없습니다: 빈 폴더입니다{where_ko}")


def _say(line: str) -> None:
    """One line in the cell's output (the student's notebook output, as Colab's own messages are)."""
    sys.stdout.write(f"[grader] {line}\n")
    sys.stdout.flush()


def _emit(kind: str, **fields: Any) -> None:
    if _probe is not None:
        try:
            _probe.emit("doctor", kind=kind, **fields)
        except Exception:
            pass


# ------------------------------------------------------------------------------------------ google.colab
class _Nothing:
    """What the harmless parts return: callable, a context manager, any attribute is itself."""

    def __call__(self, *args: Any, **kwargs: Any) -> _Nothing:
        return self

    def __getattr__(self, name: str) -> _Nothing:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __enter__(self) -> _Nothing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __repr__(self) -> str:
        return "<google.colab stand-in of the grader>"


def _mount_dir(path: str) -> str:
    """Where ``path`` is made: itself inside the sandbox (where ``/content`` is private and writable), else a
    folder relative to the working folder (never anything under ``/`` of the host)."""
    if _cfg.get("content") and os.path.isabs(path):
        try:
            os.makedirs(os.path.join(path, "MyDrive"), exist_ok=True)
            return path
        except OSError:
            pass
    content = "/content/"
    rel = path[len(content):] if path.startswith(content) else path.lstrip("/")
    rel = rel or "drive"
    os.makedirs(os.path.join(rel, "MyDrive"), exist_ok=True)
    return rel


def mount(mountpoint: Any = "/content/drive", force_remount: bool = False, timeout_ms: int = 120000,
          readonly: bool = False, **kwargs: Any) -> None:
    """``google.colab.drive.mount``: an empty ``MyDrive`` folder, one line saying so."""
    path = os.fspath(mountpoint)
    at = _mount_dir(path)
    where = "" if at == path else f" at ./{at} (absolute /content paths exist only in the grader's sandbox)"
    where_ko = "" if at == path else f" (./{at}; /content 경로는 채점 샌드박스 안에만 있습니다)"
    _say(NO_DRIVE.format(path=path, where=where, where_ko=where_ko))
    _emit("env_colab", what="drive.mount", path=path, at=at)


def flush_and_unmount(timeout_ms: int = 24 * 3600 * 1000) -> None:
    """``google.colab.drive.flush_and_unmount``: nothing to do."""


def upload(target_dir: str = "", **kwargs: Any) -> dict[str, bytes]:
    """``google.colab.files.upload``: no file can be uploaded while grading: ``{}``."""
    _say("files.upload(): no files can be uploaded while grading; it returns {} / "
         "채점 중에는 파일을 업로드할 수 없어 {}를 돌려줍니다")
    _emit("env_colab", what="files.upload")
    return {}


def download(filename: Any, **kwargs: Any) -> None:
    """``google.colab.files.download``: nothing is downloaded while grading."""
    _say(f"files.download({os.fspath(filename)!r}): nothing is downloaded while grading / "
         "채점 중에는 다운로드하지 않습니다")


def _png(rows: list[bytes], width: int, height: int, color: int) -> bytes:
    """A PNG (8-bit, colour type 0 gray / 2 RGB / 6 RGBA) from raw rows, standard library only."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)
    head = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def cv2_imshow(a: Any) -> None:
    """``google.colab.patches.cv2_imshow``: display a (BGR) image array; print its shape where nothing can show."""
    shape = tuple(getattr(a, "shape", ()))
    display = sys.modules.get("IPython.display")
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3, 4)) or display is None:
        _say(f"cv2_imshow: an image of shape {shape}")
        return
    a = a.clip(0, 255).astype("uint8")
    if len(shape) == 3 and shape[2] == 1:
        a, shape = a[:, :, 0], shape[:2]
    if len(shape) == 3:  # OpenCV's BGR(A) order -> RGB(A)
        a = a[:, :, [2, 1, 0, 3][:shape[2]]]
    color = {2: 0, 3: 2, 4: 6}[len(shape) if len(shape) == 2 else shape[2]]
    rows = [a[i].tobytes() for i in range(shape[0])]
    display.display(display.Image(data=_png(rows, shape[1], shape[0], color), format="png"))


_API: dict[str, dict[str, Any]] = {
    "drive": {"mount": mount, "flush_and_unmount": flush_and_unmount},
    "files": {"upload": upload, "download": download},
    "patches": {"cv2_imshow": cv2_imshow},
}


def _fill(mod: types.ModuleType, short: str) -> None:
    mod.__dict__.update(_API.get(short, {}))
    if short not in ("drive", "files", "patches"):
        mod.__dict__["__getattr__"] = _harmless  # PEP 562: any other name is a harmless stand-in


def _harmless(name: str) -> _Nothing:
    if name.startswith("__"):
        raise AttributeError(name)
    return _Nothing()


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        module.__dict__["_grader_stand_in"] = True
        if name == "google.colab":
            for short in _SUBMODULES:
                setattr(module, short, importlib.import_module(f"google.colab.{short}"))
        elif name.startswith("google.colab."):
            _fill(module, name.rsplit(".", 1)[1])


class _ColabFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``: answers for ``google`` (when nothing else does) and ``google.colab.*``."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        package = fullname in ("google", "google.colab")
        if package or fullname in {f"google.colab.{s}" for s in _SUBMODULES}:
            spec = importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=package)
            if package:
                spec.submodule_search_locations = []
            return spec
        return None


def _colab_absent() -> bool:
    try:
        return importlib.util.find_spec("google.colab") is None
    except (ImportError, ValueError):
        return True


# ------------------------------------------------------------------------------------------ pip
def _pip_args(part: str) -> list[str] | None:
    """The arguments after ``pip`` of a pip command line (``pip``, ``pip3``, ``python -m pip``, ``%pip``'s
    ``/path/python -m pip``), else None."""
    try:
        toks = shlex.split(part)
    except ValueError:
        return None
    while toks and toks[0] in ("sudo", "env") or (toks and "=" in toks[0] and not toks[0].startswith("-")):
        toks = toks[1:]
    if not toks:
        return None
    head = os.path.basename(toks[0])
    if re.fullmatch(r"pip[0-9.]*", head):
        return toks[1:]
    if re.fullmatch(r"python[0-9.]*", head) and toks[1:3] == ["-m", "pip"]:
        return toks[3:]
    return None


def _requirements(args: list[str]) -> tuple[str, list[str]] | None:
    """(sub-command, requirement specs) of pip's arguments; None when there is no sub-command."""
    sub, specs, i = None, [], 0
    while i < len(args):
        tok = args[i]
        if tok in (">", ">>", "2>", "&>") or _REDIRECT.match(tok):
            i += 2 if tok in (">", ">>", "2>", "&>") else 1
            continue
        if tok.startswith("-"):
            if tok in ("-r", "--requirement") and i + 1 < len(args):
                specs += _requirement_file(args[i + 1])
            i += 2 if tok in _WITH_VALUE else 1
            continue
        if sub is None:
            sub = tok
        else:
            specs.append(tok)
        i += 1
    return (sub, specs) if sub else None


def _requirement_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = [ln.split("#")[0].strip() for ln in f]
    except OSError:
        return [f"-r {path}"]
    return [ln for ln in lines if ln and not ln.startswith("-")]


def _spec_name(spec: str) -> str:
    """A requirement's distribution name (``torch>=2`` -> ``torch``); a URL or path as typed."""
    m = _NAME.match(spec)
    return m.group(1) if m is not None and "://" not in spec else spec


def installed(spec: str) -> bool:
    """Whether the distribution a requirement names is installed here (by distribution or import name)."""
    m = _NAME.match(spec)
    if m is None or "://" in spec or spec.startswith((".", "/")):
        return False
    name = m.group(1)
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        pass
    norm = re.sub(r"[-_.]+", "-", name).lower()
    module = _IMPORT_NAMES.get(norm, norm.replace("-", "_"))
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _handle_pip(command: str, args: list[str]) -> tuple[int, list[str]] | None:
    """Answer a pip command without the network: (exit code, lines printed); None to run it as it is."""
    parsed = _requirements(args)
    if parsed is None:
        return None
    sub, specs = parsed
    if sub == "uninstall":
        return 0, ["pip uninstall: the grading environment is fixed; nothing was removed / "
                   "채점 환경은 고정되어 있어 아무것도 제거하지 않았습니다"]
    if sub != "install":
        return None
    missing = [s for s in specs if not installed(s)]
    _emit("pip", command=command[:300], packages=specs[:50], missing=missing[:50])
    names = [_spec_name(s) for s in missing]
    lines = [f"the grading environment has no {n}; packages are not installed while grading (no network) / "
             f"채점 환경에는 {n} 패키지가 없습니다; 채점 중에는 패키지를 설치하지 않습니다 (네트워크 없음)"
             for n in names]
    return (1 if missing else 0), lines


def _split(cmd: str) -> list[str]:
    return [p for p in re.split(r"\s*(?:&&|;|\|\|)\s*", cmd.strip()) if p]


def answer(cmd: str) -> tuple[int, list[str], str | None] | None:
    """A shell command line's pip parts answered here: (exit code, lines, the rest to run or None); None when it
    holds no pip install/uninstall (it runs as it is)."""
    parts, rest, code, lines, handled = _split(cmd), [], 0, [], False
    for part in parts:
        args = _pip_args(part)
        done = _handle_pip(part, args) if args is not None else None
        if done is None:
            rest.append(part)
            continue
        handled = True
        code = max(code, done[0])
        lines += done[1]
    if not handled:
        return None
    return code, lines, (" && ".join(rest) if rest else None)


def _install_shell(_grader_shell: Any) -> None:
    """Wrap the IPython shell's ``system`` (``!cmd``, ``%pip``) and ``getoutput`` (``!!cmd``, ``x = !cmd``).
    The wrapper's frame is where IPython expands ``{name}`` when it runs a command as it is, so its names (free
    variables included) all start with ``_grader_``."""
    _grader_system, _grader_getoutput = _grader_shell.system, _grader_shell.getoutput
    _originals.update(system=_grader_system, getoutput=_grader_getoutput, shell=_grader_shell)

    def _grader_answer(cmd: Any, depth: int) -> Any:
        try:  # depth: frames above this one to the caller of system/getoutput (the cell or the %pip magic)
            return answer(_grader_shell.var_expand(str(cmd), depth=depth))
        except Exception:
            return None

    def system(_grader_cmd: Any) -> Any:
        _grader_done = _grader_answer(_grader_cmd, 2)
        if _grader_done is None:
            return _grader_system(_grader_cmd)
        for _grader_line in _grader_done[1]:
            _say(_grader_line)
        _grader_shell.user_ns["_exit_code"] = _grader_done[0]
        return _grader_system(_grader_done[2]) if _grader_done[2] else None

    def getoutput(_grader_cmd: Any, split: bool = True, depth: int = 0) -> Any:
        return _getoutput(_grader_getoutput, _grader_answer(_grader_cmd, depth + 2), _grader_cmd, split, depth)

    _grader_shell.system, _grader_shell.getoutput = system, getoutput


def _getoutput(original: Any, done: Any, cmd: Any, split: bool, depth: int) -> Any:
    """``getoutput`` with the pip parts answered (``done``, see :func:`answer`)."""
    if done is None:
        return original(cmd, split, depth + 2)
    text = "\n".join(f"[grader] {ln}" for ln in done[1])
    if done[2]:
        more = original(done[2], False, depth + 2)
        text = "\n".join(t for t in (text, str(more)) if t)
    utils = sys.modules.get("IPython.utils.text")
    if utils is None:
        return text.splitlines() if split else text
    return utils.SList(text.splitlines()) if split else utils.LSString(text)


# ------------------------------------------------------------------------------------------ install
def install(probe: Any, config: dict[str, Any]) -> None:
    """Install the stand-ins for ``probe`` (``config["colab"]``: ``content`` -- ``/content`` inside the sandbox,
    else None -- and ``sample_rows``, the rows of each sample_data CSV served)."""
    global _probe, _cfg
    _probe, _cfg = probe, dict(config.get("colab") or {})
    if _colab_absent() and not any(isinstance(f, _ColabFinder) for f in sys.meta_path):
        sys.meta_path.append(_ColabFinder())
    get_ipython = getattr(builtins, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None and "system" not in _originals:
        _install_shell(shell)
    _emit("env_setup", content=_cfg.get("content"), sample_rows=_cfg.get("sample_rows"))


def uninstall() -> None:
    """Undo :func:`install` (tests and benchmarks toggle the probe in one process)."""
    global _probe
    _probe = None
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _ColabFinder)]
    shell = _originals.pop("shell", None)
    if shell is not None:
        shell.system, shell.getoutput = _originals.pop("system"), _originals.pop("getoutput")
    for name in [n for n in sys.modules if n == "google.colab" or n.startswith("google.colab.")]:
        if getattr(sys.modules[name], "_grader_stand_in", False):
            del sys.modules[name]
