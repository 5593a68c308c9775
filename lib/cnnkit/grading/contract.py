"""What crosses a process boundary in `cnnkit grade`, as typed values, and every default limit, once.

Four processes take part in grading one submission (README, "How grading fits together"): the grader,
the sandbox's runner (`sandbox/runner.py`), the kernel started by its boot script (`sandbox/boot.py`)
and, inside that kernel, the probe (`kernel/runtime.py`). Each gets one value from the one before:

- `Limits`: the per-submission limits the grader is given (`--timeout`), with the four numbers the
  processes enforce derived from it in one place (`wall_seconds`, `cell_seconds`, `case_seconds`,
  `cpu_seconds_limit`);
- `RunnerConfig`: grader -> runner (`runner.json`); `BootConfig`: runner -> boot script (`boot.json`);
- `ProbeSpec` with one `CaseSpec` per case: grader -> probe (JSON inside the probe cell, or inside
  `RunnerConfig.spec` for the artifact cases).

This module is stdlib only: the runner imports it from a copy beside its own (it runs with `python -I`
and imports nothing of the library), and the probe cell carries its text into the kernel, which loads
the spec it is told with `ProbeSpec.from_json` (validated; see kernel/load.py: the probe must not
import a module a notebook could have replaced).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

# ------------------------------------------------------------------------------------ defaults --
# Each default limit is written here and nowhere else (`cnnkit grade --timeout`, `grade(timeout=)`,
# Gradescope's `timeout` setting and `Limits()` all read these).

DEFAULT_TIMEOUT = 600.0  # wall-clock seconds per submission
# A cell's limit is a share of the wall clock, so one slow cell is interrupted and the rest of the
# notebook and the cases still have time; capped for long wall clocks.
CELL_SHARE = 0.25
MAX_CELL_SECONDS = 300.0
MIN_CASE_SECONDS = 5  # below this a case cannot even import torch on a busy machine
# the solution is trusted and must not fail preflight on a busy machine: its clock is at least this
REFERENCE_SECONDS = 600.0
DEFAULT_MEMORY_BYTES = 6 * 1024**3  # RLIMIT_AS: torch alone maps ~3 GiB
DEFAULT_NPROC = 64
DEFAULT_FILE_BYTES = 1024**3
DEFAULT_SCRATCH_BYTES = 1024**3


@dataclass
class Limits:
    """Per-submission limits (what the grader is given; the processes get the derived numbers).

    - timeout: wall-clock seconds for the whole notebook (kernel start to probe end).
    - cell_timeout: seconds per cell (None: `CELL_SHARE` of the wall clock, at most
      `MAX_CELL_SECONDS`).
    - case_timeout: seconds per grading case (each runs under its own alarm in the probe cell; None:
      the cell limit). A case that loads a pretrained network needs more than a `while True` cell
      should get.
    - memory_bytes: RLIMIT_AS of the kernel (address space; torch alone maps ~3 GiB).
    - cpu_seconds: RLIMIT_CPU of the kernel (None: the wall-clock limit).
    - nproc: processes and threads the kernel may add (RLIMIT_NPROC counts all tasks of the kernel's
      uid, so the limit is that uid's current task count plus this margin; the kernel's own ~12
      threads come out of it). Linux never applies it to uid 0, so a root grader runs the kernel as an
      unprivileged uid of its own (one per grader process: concurrent workers do not share a count).
    - file_bytes: RLIMIT_FSIZE of the kernel (the largest file it may write, its log included).
    - scratch_bytes: size of each of the sandbox's private /tmp and /dev/shm.
    - network: try to run without network (an unshared network namespace).
    - hide: paths to cover with empty tmpfs mounts inside the sandbox (the unshare fallback's
      deny-list; bwrap shows only what it binds).
    - read_only: more paths the sandbox sees read-only (data the cases need: torch weights).
    - isolate: use namespaces at all (False: only the process group, rlimits and the temp dir).
    - backend: "auto" (bwrap where installed and allowed, else unshare), "bwrap" or "unshare".
    """

    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: float | None = None
    case_timeout: float | None = None
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    cpu_seconds: int | None = None
    nproc: int = DEFAULT_NPROC
    file_bytes: int = DEFAULT_FILE_BYTES
    scratch_bytes: int = DEFAULT_SCRATCH_BYTES
    network: bool = False
    hide: list[str] = field(default_factory=list)
    read_only: list[str] = field(default_factory=list)
    isolate: bool = True
    backend: str = "auto"

    # the four numbers the processes enforce, derived here only

    @property
    def wall_seconds(self) -> float:
        """The runner's wall clock (the grader kills the sandbox's process group past it)."""
        return float(self.timeout)

    @property
    def cell_seconds(self) -> float:
        """nbclient's per-cell limit, never past the wall clock."""
        cell = self.cell_timeout
        if cell is None:
            cell = min(MAX_CELL_SECONDS, self.timeout * CELL_SHARE)
        return min(float(cell), self.wall_seconds)

    @property
    def case_seconds(self) -> int:
        """The probe's alarm per case: case_timeout (else the cell limit), within the wall clock."""
        case = self.case_timeout or self.cell_seconds
        return max(MIN_CASE_SECONDS, int(min(case, self.wall_seconds)))

    @property
    def cpu_seconds_limit(self) -> int:
        """RLIMIT_CPU of the kernel (a second over, so the wall clock speaks first)."""
        return int(self.cpu_seconds or self.timeout) + 1

    def for_reference(self) -> Limits:
        """The trusted solution's limits: nothing hidden and a generous clock for every limit."""
        t = max(self.wall_seconds, REFERENCE_SECONDS)
        return Limits(
            **{**asdict(self), "hide": [], "timeout": t, "cell_timeout": t, "case_timeout": t}
        )

    def verdict_fields(self) -> dict:
        """What of the limits can change a verdict (part of the cache key): the enforced numbers and
        the sandbox's settings; not the paths (temp and submission paths differ per run)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("hide", "read_only")}
        out.update(cell_timeout=self.cell_seconds, case_timeout=self.case_seconds)
        out["cpu_seconds"] = self.cpu_seconds_limit
        return out

    @classmethod
    def for_timeout(cls, timeout: float = DEFAULT_TIMEOUT, **kw) -> Limits:
        """Limits for a wall clock of `timeout` seconds (the rest derived or defaulted)."""
        return cls(timeout=float(timeout), **kw)


# --------------------------------------------------------------------------- grader -> probe --


@dataclass
class CaseSpec:
    """One case as the probe runs it.

    - name: the test function's name; source: its source (in a student's kernel: without the
      computation of its expected values, see slicing.record_source).
    - params: the notebook names it takes (none: an artifact case, run outside the kernel).
    - seed: the case's own seed (hidden cases: the batch's), None for the fixed per-name inputs that
      `grader.check` draws (public cases).
    - depends: the watched names (watch.py) whose replacement before grading voids this case.
    """

    name: str
    source: str
    params: list[str]
    seed: int | None = None
    depends: list[str] = field(default_factory=list)


@dataclass
class ProbeSpec:
    """What the probe (kernel/runtime.py) is told.

    - mode: "reference" (the solution), "record" (a student's kernel) or "check" (artifact cases).
    - seed: the batch's grading seed; out: the directory records.json and the arrays go to.
    - tests: the cases, in order; checks_source: the grader's copy of cnnkit/checks.py.
    - case_seconds: seconds per case (`Limits.case_seconds`); memory_bytes: RLIMIT_AS of the
      artifact checks' process (`Limits.memory_bytes`).
    - always: the watched names every case relies on (the recording path); pristine: their digests,
      and the `depends` ones', as the reference kernel saw them.
    - numpy_only: the stage's graded functions may use numpy only (`Stage.numpy_only`): the probe
      notes a case whose student code calls torch or scipy's convolutions (cnnkit/numpy_only.py).
    """

    mode: str
    seed: int
    out: str
    tests: list[CaseSpec]
    checks_source: str
    case_seconds: int
    memory_bytes: int | None = None
    always: list[str] = field(default_factory=list)
    pristine: dict[str, str] = field(default_factory=dict)
    numpy_only: bool = False

    def to_dict(self) -> dict:
        """The plain dict that travels (JSON in the probe cell, `RunnerConfig.spec`)."""
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> ProbeSpec:
        """The spec a dict describes, validated (what the probe does first with what it is told).

        Raises ValueError for an unknown or missing field or a value of the wrong type."""
        tests = data.get("tests") if isinstance(data, dict) else None
        if not (isinstance(tests, list) and all(isinstance(t, dict) for t in tests)):
            raise ValueError("ProbeSpec: expected a dict with a list of test dicts")
        try:
            cases = [CaseSpec(**_known(CaseSpec, t)) for t in tests]
            spec = cls(**{**_known(cls, data), "tests": cases})
        except TypeError as exc:  # a missing field
            raise ValueError(f"ProbeSpec: {exc}") from None
        for case in cases:
            _validate(case, CASE_FIELDS)
        _validate(spec, PROBE_FIELDS)
        return spec

    @classmethod
    def from_json(cls, text: str) -> ProbeSpec:
        return cls.from_dict(json.loads(text))


def _str(v) -> bool:
    return isinstance(v, str)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_or_none(v) -> bool:
    return v is None or _int(v)


def _strs(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _str_to_str(v) -> bool:
    return isinstance(v, dict) and _strs([*v, *v.values()])


PROBE_MODES = ("reference", "record", "check")
# what each field of a spec may hold (ProbeSpec.from_dict)
CASE_FIELDS = {"name": _str, "source": _str, "params": _strs, "seed": _int_or_none}
CASE_FIELDS["depends"] = _strs
PROBE_FIELDS = {
    "mode": lambda v: v in PROBE_MODES,
    "seed": _int,
    "out": _str,
    "checks_source": _str,
}
PROBE_FIELDS.update(
    case_seconds=_int, memory_bytes=_int_or_none, always=_strs, pristine=_str_to_str
)
PROBE_FIELDS["numpy_only"] = lambda v: isinstance(v, bool)


def _validate(obj, fields_ok: dict) -> None:
    """Raise ValueError naming every field of `obj` whose value its predicate refuses."""
    bad = [f"{k}={getattr(obj, k)!r:.60}" for k, ok in fields_ok.items() if not ok(getattr(obj, k))]
    if bad:
        raise ValueError(f"{type(obj).__name__}: invalid {', '.join(bad)}")


# ------------------------------------------------------------------- grader -> runner -> boot --


@dataclass
class BootConfig:
    """What the kernel's boot script (sandbox/boot.py) does before the kernel or the checks start.

    - entry: "kernel" (an ipykernel) or "probe" (the artifact checks: kernel/runtime.run_checks).
    - spec: the artifact checks' ProbeSpec as a dict (entry "probe"), else None.
    - library: the cnnkit package directory put first on sys.path; blocked: sys.path entries removed
      (the full library's lib/, the boot dir).
    - uid: the unprivileged uid to drop to (a root grader), else None; userns: the process is root
      of a user namespace and must drop its capabilities.
    - as_bytes, cpu_seconds, nproc, file_bytes: rlimits (0: none).
    """

    entry: str
    library: str
    blocked: list[str]
    uid: int | None
    userns: bool
    as_bytes: int
    cpu_seconds: int
    nproc: int
    file_bytes: int
    spec: dict | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BootConfig:
        return cls(**_known(cls, json.loads(text)))


@dataclass
class RunnerConfig:
    """What the sandbox's runner (sandbox/runner.py) is told (`runner.json` in the work dir).

    - entry, library, uid, userns, spec: passed on to the boot script (BootConfig).
    - workdir: the run's work dir (sub/ is the kernel's cwd); notebook: the notebook in sub/.
    - probe: the probe cell's code, appended to the notebook (None: no probe).
    - cell_seconds, wall_seconds: `Limits.cell_seconds`, `Limits.wall_seconds`.
    - as_bytes, cpu_seconds, nproc, file_bytes: the kernel's rlimits (0: none).
    - scratch_bytes: size of the private /tmp and /dev/shm (unshare: mounted by the runner).
    - backend: "bwrap", "unshare" or "" (no namespaces).
    - hide: paths to cover (unshare); expose: paths the kernel's uid must reach (unshare).
    - blocked: sys.path entries the kernel must not see; env: more kernel environment.
    """

    entry: str
    workdir: str
    library: str
    notebook: str = ""
    probe: str | None = None
    spec: dict | None = None
    cell_seconds: float = 0.0
    wall_seconds: float = 0.0
    as_bytes: int = 0
    cpu_seconds: int = 0
    nproc: int = 0
    file_bytes: int = 0
    scratch_bytes: int = 0
    backend: str = ""
    hide: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    uid: int | None = None
    userns: bool = False
    expose: list[str] = field(default_factory=list)

    def boot(self, also_blocked: list[str]) -> BootConfig:
        """The boot script's part of this config (`also_blocked`: more paths the kernel must not
        import from)."""
        return BootConfig(
            entry=self.entry,
            library=self.library,
            blocked=[*self.blocked, *also_blocked],
            uid=self.uid,
            userns=self.userns,
            as_bytes=self.as_bytes,
            cpu_seconds=self.cpu_seconds,
            nproc=self.nproc,
            file_bytes=self.file_bytes,
            spec=self.spec,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunnerConfig:
        return cls(**_known(cls, json.loads(text)))


def _known(cls, data: dict) -> dict:
    """The entries of `data` that are fields of dataclass `cls` (an unknown key is an error)."""
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    return dict(data)
