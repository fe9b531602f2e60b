"""scoring stage of the grading pipeline."""
