"""The training-loop doctor: why a run went wrong, from the evidence the probe and the grader recorded.

A stage after evaluation and before the checks: :func:`diagnose` reads the evaluated runs, the recording
(including the kernel's ``doctor`` events, ``grader/recording/probe_doctor.py``), the execution report and the
notebook, and returns typed :class:`Diagnosis` findings in Korean and English with a lecture pointer. Generic:
thresholds come from an assignment's ``[diagnoses]`` table (:class:`DiagnosisConfig`); nothing here knows the
homework. Diagnoses never change points; checks may cite them (``grader.scoring.explain``).
"""

from grader.assignment.settings import DiagnosisConfig, TaskSpec
from grader.diagnosis.engine import RULES, diagnose
from grader.diagnosis.model import SEVERITIES, Diagnosis, DiagnosisInput, Severity, Text

__all__ = ["RULES", "SEVERITIES", "Diagnosis", "DiagnosisConfig", "DiagnosisInput", "Severity", "TaskSpec", "Text",
           "diagnose"]
