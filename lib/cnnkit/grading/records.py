"""Reading back what a kernel wrote (records.json, the arrays, environment.json) as plain data.

The kernel owns the directory it writes to: everything is read without following links, bounded in
size and count, and refused unless it is plain data (numbers, strings, arrays without pickles).
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path


def read_kernel_file(path: Path, max_bytes: int) -> bytes:
    """Read a file the student's kernel wrote, as the grader (maybe root): never through a link.

    The kernel owns the directory, so it could leave a symlink or a hard link to a grader-side file
    (the reference run's records) in place of its own output.

    Inputs:
    - path: the file.
    - max_bytes: refuse larger files.

    Returns:
    - data: the file's bytes; raises OSError or ValueError for a link, a non-regular or a large file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise ValueError(f"{path.name} is not a plain file")
        if st.st_size > max_bytes:
            raise ValueError(f"{path.name} is too large")
        return f.read(max_bytes + 1)[:max_bytes]


def load_environment(out: Path) -> dict:
    """The digests of the watched functions a reference kernel wrote at probe start ({} if none).

    Inputs:
    - out: the probe's output directory (of a "reference" run).

    Returns:
    - pristine: {"module:name": digest}, what `Plan.pristine` holds.
    """
    try:
        env = json.loads(read_kernel_file(Path(out) / "environment.json", 64 * 1024**2))
    except (OSError, ValueError):
        return {}
    return env if isinstance(env, dict) else {}


MAX_RECORDS = 10_000  # per case; a real case records a handful


def load_records(out: Path, max_bytes: int = 256 * 1024**2, max_total: int = 1024**3) -> dict:
    """Read a probe's records back in the grader, refusing anything that is not plain data.

    Inputs:
    - out: the probe's output directory.
    - max_bytes: refuse .npy files larger than this.
    - max_total: refuse the rest once this many bytes of arrays were read in all (one file named by
      many records is read each time: the kernel must not make the grader read without bound).

    Returns:
    - results: {case: {"error": str | None, "records": [{name, kind, rtol, atol, value}]}}; a case
      whose records are malformed gets an error instead.
    """
    import numpy as np

    path = Path(out) / "records.json"
    if not path.exists():
        return {}
    try:
        raw = json.loads(read_kernel_file(path, max_bytes))
    except (OSError, ValueError) as err:
        return {"<records>": {"error": f"unreadable records ({err})", "records": []}}
    results = {}
    budget = max_total
    for case, entry in raw.items() if isinstance(raw, dict) else []:
        try:
            error = entry.get("error")
            recs = []
            if len(entry["records"]) > MAX_RECORDS:
                raise ValueError(f"more than {MAX_RECORDS} records")
            for rec in entry["records"]:
                value = rec.get("value")
                if "npy" in rec:
                    f = Path(out) / Path(str(rec["npy"])).name
                    data = read_kernel_file(f, min(max_bytes, budget))
                    budget -= len(data)
                    value = np.load(io.BytesIO(data), allow_pickle=False)
                elif value is not None and not isinstance(value, (bool, int, float, str)):
                    raise ValueError("recorded value is not plain data")
                recs.append(
                    {
                        "name": str(rec["name"]),
                        "kind": str(rec["kind"]),
                        "rtol": float(rec["rtol"]),
                        "atol": float(rec["atol"]),
                        "msg": None if rec.get("msg") is None else str(rec["msg"])[:300],
                        "tuple": rec.get("tuple") is True,
                        "value": value,
                    }
                )
            results[str(case)] = {"error": None if error is None else str(error), "records": recs}
            if entry.get("forbidden"):  # a numpy-only stage's case that called torch/scipy
                results[str(case)]["forbidden"] = str(entry["forbidden"])[:200]
        except (KeyError, TypeError, ValueError, OSError, AttributeError) as err:
            results[str(case)] = {"error": f"unreadable records ({err})", "records": []}
    return results
