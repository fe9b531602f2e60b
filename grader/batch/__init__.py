"""Class batch grading: find every student's submission, grade them in parallel, store the results."""
