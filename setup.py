"""The wheel's packages (everything else is in pyproject.toml).

``grader`` and its sub-packages, plus ``grader_assignments``: the top-level ``assignments/`` folder under an
importable name (:mod:`grader.assignment.locate` searches it). Every file of it ships as package data of
``grader_assignments`` (pyproject.toml); its sub-folders are listed as (namespace) packages too, which is what
setuptools wants for folders it could import. The instructor's solutions (``reference/``) are in no package and
never ship.
"""

from setuptools import find_namespace_packages, setup

_NOT_PACKAGES = ["*.__pycache__", "*.__pycache__.*"]

setup(
    packages=[*find_namespace_packages(include=["grader", "grader.*"], exclude=_NOT_PACKAGES),
              "grader_assignments",
              *(f"grader_assignments.{p}" for p in find_namespace_packages("assignments", exclude=_NOT_PACKAGES))],
    package_dir={"grader_assignments": "assignments"},
)
