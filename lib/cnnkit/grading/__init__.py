"""Instructor-side tooling: build (otter assign), grade (Docker-free), stage gating, release, nbgrader.

Nothing a student imports depends on this package; `gate.gated_copy` leaves it out of the gated library.
"""
