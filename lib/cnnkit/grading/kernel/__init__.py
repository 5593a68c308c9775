"""What runs inside the student's kernel, and how the grader ships it there.

- `runtime.py`: the probe (runs the cases, writes the records);
- `tamper.py`: the tamper check (what a case may not change while it runs, what a notebook may not
  have replaced before grading);
- `../../numpy_only.py` (cnnkit.numpy_only, outside `grading` because the student library and
  `grader.check` use it too): the guard of the numpy-only stages (a case whose student code calls torch or
  scipy's convolutions);
- `load.py`: the probe cell's first code, which makes modules of the others' file texts.

All are real modules (tests import them) that the student's kernel never imports: the probe cell
carries their file texts, and `contract.py`'s (the ProbeSpec it reads), and runs each in a module of
its own, so what a notebook did to `sys.modules` or to the `cnnkit` package cannot stand in for them.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNTIME = HERE / "runtime.py"
TAMPER = HERE / "tamper.py"
NUMPY_ONLY = HERE.parent.parent / "numpy_only.py"  # cnnkit/numpy_only.py: grader.check uses it too
LOAD = HERE / "load.py"
CONTRACT = HERE.parent / "contract.py"


def probe_cell(spec) -> str:
    """The source of the probe cell for a kernel: the kernel-side modules' texts, then the probe.

    Inputs:
    - spec: a `contract.ProbeSpec` (or its dict).

    Returns:
    - source: Python code that loads load.py's text in a namespace of its own and calls its `probe`
      with the notebook's globals (live, as the cases see them), the texts of contract.py,
      tamper.py, numpy_only.py and runtime.py, and the spec as JSON; it leaves no name behind.
    """
    data = spec if isinstance(spec, dict) else spec.to_dict()
    texts = {p.stem: p.read_text(encoding="utf-8") for p in (CONTRACT, TAMPER, NUMPY_ONLY, RUNTIME)}
    return (
        "__cnnkit_probe = {'__name__': 'cnnkit_kernel_load'}\n"
        f"exec(compile({LOAD.read_text(encoding='utf-8')!r}, 'load.py', 'exec'), __cnnkit_probe)\n"
        f"__cnnkit_probe['probe'](globals(), {texts!r}, {json.dumps(data)!r})\n"
        "del __cnnkit_probe\n"
    )
