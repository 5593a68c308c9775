"""The sandbox a submission runs in: one file per process.

- launcher.py: the grader's side (the bwrap / unshare command line, the run's work dir, the wait);
- runner.py: the runner process inside the namespaces (nbclient, the kernel spec, the unshare covers);
- boot.py: the kernel's first code (privilege drop, rlimits, the library's path).

runner.py and boot.py are shipped by their file text into each run's boot dir, with contract.py.
"""

from cnnkit.grading.contract import Limits
from cnnkit.grading.sandbox.launcher import (
    SANDBOX_UID_BASE,
    Outcome,
    SandboxError,
    always_shown,
    execute,
    execute_checks,
    kernel_uid,
    sandbox_prefix,
    user_task_count,
)
from cnnkit.grading.sandbox.runner import KERNEL_NAME, prepare_notebook

__all__ = [
    "KERNEL_NAME",
    "SANDBOX_UID_BASE",
    "Limits",
    "Outcome",
    "SandboxError",
    "always_shown",
    "execute",
    "execute_checks",
    "kernel_uid",
    "prepare_notebook",
    "sandbox_prefix",
    "user_task_count",
]
