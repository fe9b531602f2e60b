"""reference stage of the grading pipeline."""
