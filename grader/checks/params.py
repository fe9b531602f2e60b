"""Check parameters from assignment.toml, validated against the check's parameter dataclass.

Supported field types: ``bool``, ``int``, ``float`` (an int is accepted), ``str``, ``Any``, ``X | None``,
``Literal[...]``, ``list[X]`` / ``tuple[X, ...]`` and ``dict[str, X]``. A field without a default is required.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union

from grader.errors import AssignmentError


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against ``tp`` (tuples built from lists); AssignmentError names ``where``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except AssignmentError as exc:
                errors.append(str(exc))
        raise AssignmentError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of "
                              f"{' | '.join(_type_name(a) for a in args)}")
    if origin is Literal:
        if value not in args:
            raise AssignmentError(f"{where} must be one of {', '.join(repr(a) for a in args)}, not {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise AssignmentError(f"{where} must be a list, not {value!r}")
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise AssignmentError(f"{where} must be a table, not {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    return _scalar(value, tp, where)


def _scalar(value: Any, tp: Any, where: str) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise AssignmentError(f"{where} must be true or false, not {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise AssignmentError(f"{where} must be an integer, not {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AssignmentError(f"{where} must be a number, not {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise AssignmentError(f"{where} must be a string, not {value!r}")
        return value
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise AssignmentError(f"{where} must be {_type_name(tp)}, not {value!r}")


def parse_params(params_type: type | None, raw: dict[str, Any], where: str) -> Any:
    """An instance of ``params_type`` from the toml keys in ``raw`` (None when the check takes no parameters).

    ``where`` names the file and check (``assignments/x/assignment.toml [[checks]] t1.acc``); an unknown key, a
    missing required one or a wrong type is an AssignmentError naming it and listing the known keys."""
    if params_type is None:
        if raw:
            raise AssignmentError(f"{where}: this check takes no parameters, got {', '.join(sorted(raw))}")
        return None
    if not dataclasses.is_dataclass(params_type):
        raise AssignmentError(f"{where}: the check's params type {params_type!r} is not a dataclass")
    hints = typing.get_type_hints(params_type)
    known = {f.name: f for f in dataclasses.fields(params_type) if f.init}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        listing = ", ".join(sorted(known)) or "none"
        raise AssignmentError(f"{where}: unknown parameter(s) {', '.join(unknown)} (known: {listing})")
    values = {}
    for name, f in known.items():
        if name in raw:
            values[name] = _coerce(raw[name], hints.get(name, Any), f"{where}: parameter {name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise AssignmentError(f"{where}: missing required parameter {name} ({_type_name(hints.get(name))})")
    return params_type(**values)
