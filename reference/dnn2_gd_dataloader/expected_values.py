#!/usr/bin/env python3
# ruff: noqa: T201  (a script: it prints what it wrote)
"""Print the ``expected`` lists of t1.iterates (assignment.toml): x_1 … x_steps of x ← x − lr·4x³ for the inputs
of the ``gradient_descent`` facts, rounded to 7 decimals (the check's tolerance is 1e-4)."""

from __future__ import annotations

INPUTS = [(2.0, 0.01, 9), (1.5, 0.02, 7), (-1.0, 0.05, 5)]  # gd_slide, gd_hidden_a, gd_hidden_b


def iterates(x0: float, lr: float, steps: int) -> list[float]:
    xs, x = [], x0
    for _ in range(steps):
        x = x - lr * 4 * x ** 3
        xs.append(round(x, 7))
    return xs


if __name__ == "__main__":
    print("expected = [")
    for args in INPUTS:
        print(f"  {iterates(*args)},")
    print("]")
