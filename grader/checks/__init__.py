"""checks stage of the grading pipeline."""
