"""The in-kernel runtime (`runtime.py`, stdlib + numpy) and how the grader ships it into a kernel.

`runtime.py` is a real module (tests import it) that the student's kernel never imports: the probe
cell carries its file text and runs it in a namespace of its own, so what a notebook did to
`sys.modules` or to the `cnnkit` package cannot stand in for it. The modules it uses (`SHIPPED`,
stdlib only) travel the same way: each module's text is run into a fresh module object that the
runtime's namespace holds under the module's name (`numpy_only`), before the runtime's own text.
"""

from __future__ import annotations

import json
from pathlib import Path

RUNTIME = Path(__file__).with_name("runtime.py")
# kernel-side modules the runtime uses, shipped by their text before it (see probe_cell)
SHIPPED = (Path(__file__).with_name("numpy_only.py"),)


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
    shipped = "".join(
        f"__cnnkit_probe[{m.stem!r}] = __import__('types').ModuleType('cnnkit_kernel_{m.stem}')\n"
        f"exec(compile({m.read_text(encoding='utf-8')!r}, {m.name!r}, 'exec'), "
        f"__cnnkit_probe[{m.stem!r}].__dict__)\n"
        for m in SHIPPED
    )
    return (
        "__cnnkit_probe = {'__name__': 'cnnkit_kernel_runtime'}\n"
        + shipped
        + f"exec(compile({text!r}, {str(RUNTIME.name)!r}, 'exec'), __cnnkit_probe)\n"
        "__cnnkit_probe['run_probe'](globals(), "
        f"__cnnkit_probe['json'].loads({json.dumps(json.dumps(data))}))\n"
        "del __cnnkit_probe\n"
    )
