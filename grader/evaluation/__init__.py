"""evaluation stage of the grading pipeline."""
