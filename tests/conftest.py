"""Suite-wide settings: headless plotting, one BLAS/torch thread per worker (two cores, two workers)."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("CNNKIT_CI", "1")
