"""submission stage of the grading pipeline."""
