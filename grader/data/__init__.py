"""data stage of the grading pipeline."""
