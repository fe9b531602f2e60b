"""execution stage of the grading pipeline."""
