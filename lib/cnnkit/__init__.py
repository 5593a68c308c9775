"""cnnkit: the helper library shared by the four CNN course notebooks.

`import cnnkit` stays light (no torch import) so the numpy notebooks start fast; torch is imported by the
functions and modules that need it.
"""

__version__ = "0.1.0"

from cnnkit.runtime import ci_mode, get_device, grading_mode, seed_everything

__all__ = ["__version__", "ci_mode", "get_device", "grading_mode", "seed_everything"]
