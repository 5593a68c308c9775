"""The grader's side of the probe's tamper check: which watched names a case relies on.

The probe (kernel/runtime.py, with kernel/tamper.py) writes, in the reference kernel, a digest of every watched name
(`environment.json`, read back by records.load_environment). A student's kernel is told which of them
its cases rely on: `recording_path` (every case: what the probe and `cnnkit.checks` record and write
with) and `depends_on` (one case: the names its kernel-side source uses). A watched name the notebook
replaced before grading voids the cases that rely on it.
"""

from __future__ import annotations

import re

# What the probe and `cnnkit.checks` themselves use to record and write: replaced before grading, it
# voids every case. Other numpy/torch/builtin names void the cases whose kernel-side source uses them.
_RECORDING_PATH = {
    "builtins": {
        "bool",
        "dict",
        "float",
        "getattr",
        "int",
        "isinstance",
        "len",
        "list",
        "open",
        "type",
    },
    "numpy": {"array", "asarray", "generic", "iscomplexobj", "ndarray", "save"},
    "numpy.lib.format": {"write_array", "dtype_to_descr", "header_data_from_array_1_0"},
    "json": {"dump", "dumps", "JSONEncoder"},
    "json.encoder": {"JSONEncoder", "c_make_encoder", "encode_basestring_ascii"},
    "sys.modules": {"builtins", "json", "json.encoder", "numpy", "numpy.lib.format"},
}


def _used_names(source: str) -> set[str]:
    """Names a test source uses: bare names and attributes (`torch.equal`), not `checks.*`."""
    attrs = {
        a for p, a in re.findall(r"([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)", source) if p != "checks"
    }
    return attrs | set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)", source))


def recording_path(environment: dict) -> list[str]:
    """The watched names (keys of the reference's environment.json) every case relies on."""
    return sorted(
        k
        for k in environment
        if k.split(":", 1)[1].split(".")[0] in _RECORDING_PATH.get(k.split(":")[0], ())
    )


def depends_on(source: str, environment: dict) -> list[str]:
    """The watched names (keys of the reference's environment.json) a kernel-side test relies on.

    Inputs:
    - source: the test's kernel-side source.
    - environment: {"<module>:<name>[.__code__ ...]": digest} written by the reference kernel.

    Returns:
    - keys: those whose name the source uses (the recording path's are in `recording_path`).
    """
    words = _used_names(source)
    torch_used = "torch" in words
    path = set(recording_path(environment))

    def relied_on(where: str, what: str) -> bool:
        if f"{where}:{what}" in path:
            return False
        name = what.split(".")[0]
        if where in ("builtins", "numpy", "torch"):
            return name in words
        # a Tensor method overridden (`Tensor.__eq__ = ..`), or torch itself swapped
        return torch_used and (where, what) in (
            ("torch.Tensor", "<inherited>"),
            ("sys.modules", "torch"),
        )

    keys = [k for k in environment if relied_on(*k.split(":", 1))]
    return sorted(keys)
