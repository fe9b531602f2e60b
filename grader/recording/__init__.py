"""recording stage of the grading pipeline."""
