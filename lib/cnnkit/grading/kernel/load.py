"""The probe cell's first code: the kernel-side modules loaded from their file texts, then the probe.

Runs inside the student's kernel (the probe cell, `kernel.probe_cell`, carries this file's text and
the texts of `contract.py`, `tamper.py` and `runtime.py`). Each module is executed in a module object
of its own, not imported: a notebook that put a `cnnkit` (or a `contract`) of its own into
`sys.modules` or onto `sys.path` changes nothing here. Stdlib only.
"""

import sys
import types


def load(name, text, **names):
    """A module made from its file text, with `names` bound in it before its code runs.

    It is in `sys.modules` (under a name no notebook module has) only while its code runs:
    dataclasses look a class's module up there.
    """
    module = types.ModuleType("cnnkit_kernel_" + name)
    module.__dict__.update(names)
    sys.modules[module.__name__] = module
    try:
        exec(compile(text, name + ".py", "exec"), module.__dict__)
    finally:
        sys.modules.pop(module.__name__, None)
    return module


def probe(nb_globals, texts, spec_json):
    """Load the contract, the tamper check and the runtime from `texts` (file name -> text) and run
    the probe on the notebook's globals with the spec (`contract.ProbeSpec` as JSON, validated)."""
    contract = load("contract", texts["contract"])
    tamper = load("tamper", texts["tamper"])
    runtime = load("runtime", texts["runtime"], contract=contract, tamper=tamper)
    runtime.run_probe(nb_globals, contract.ProbeSpec.from_json(spec_json))
