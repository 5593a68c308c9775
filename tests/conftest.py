"""Suite-wide settings: headless plotting, one BLAS/torch thread per worker (two cores, two workers),
and the run's own preflight store.

The grader keeps passing preflights in the machine's store (preflight_cache.py): the suite points it
at a folder of this run's temp dir, shared by its xdist workers, so batches of one run with the same
stage build, seed and limits share a preflight and no run depends on what an earlier one left.
"""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("CNNKIT_CI", "1")


@pytest.fixture(scope="session", autouse=True)
def _preflight_store(tmp_path_factory):
    from cnnkit.grading.preflight_cache import STORE_ENV

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    os.environ[STORE_ENV] = str(shared / "preflight-store")
    yield
