"""The errors of `cnnkit grade`: what stops a batch, and what gives one submission a 0 row."""


class GradingError(RuntimeError):
    """The batch cannot be graded (missing autograder, preflight failed)."""


class PreflightError(GradingError):
    """The reference solution does not score full marks in this grading environment."""


class SubmissionError(ValueError):
    """A submission that cannot be graded (its row gets 0 and this reason)."""
