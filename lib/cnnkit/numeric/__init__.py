"""What the numpy notebooks build on: numeric gradient checks, layers, update rules and the trainer.

Only numpy is imported here; submodules are imported by name (`from cnnkit.numeric import layers`).
"""

from cnnkit.numeric.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)

__all__ = [
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
    "rel_error",
]
