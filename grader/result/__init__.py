"""result stage of the grading pipeline."""
