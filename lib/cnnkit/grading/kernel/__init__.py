"""The in-kernel runtime (`runtime.py`, stdlib + numpy) and how the grader ships it into a kernel.

`runtime.py` is a real module (tests import it) that the student's kernel never imports: the probe
cell carries its file text and runs it in a namespace of its own, so what a notebook did to
`sys.modules` or to the `cnnkit` package cannot stand in for it.
"""

from __future__ import annotations

import json
from pathlib import Path

RUNTIME = Path(__file__).with_name("runtime.py")


def probe_cell(spec) -> str:
    """The source of the probe cell for a kernel: the runtime's text, then `run_probe`.

    Inputs:
    - spec: a `contract.ProbeSpec` (or its dict).

    Returns:
    - source: Python code that runs the runtime in a fresh namespace and calls its `run_probe` with
      the notebook's globals (live, as the cases see them) and this spec.
    """
    data = spec if isinstance(spec, dict) else spec.to_dict()
    text = RUNTIME.read_text(encoding="utf-8")
    return (
        "__cnnkit_probe = {'__name__': 'cnnkit_kernel_runtime'}\n"
        f"exec(compile({text!r}, {str(RUNTIME.name)!r}, 'exec'), __cnnkit_probe)\n"
        "__cnnkit_probe['run_probe'](globals(), "
        f"__cnnkit_probe['json'].loads({json.dumps(json.dumps(data))}))\n"
        "del __cnnkit_probe\n"
    )
