"""grader: autograder for PyTorch homework notebooks."""

__version__ = "0.1.0"
