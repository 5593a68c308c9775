"""Stage gating: exercise regions of stages >= S become stubs, earlier stages keep their code."""

import subprocess
import sys
import textwrap

import pytest

from cnnkit.grading.gate import GateError, gate_source, gated_copy

FAKE_LAYERS = textwrap.dedent(
    '''
    """Fake module with two stages of exercises."""

    import math

    HELPER = 3


    # BEGIN EXERCISE 01_backprop
    def double(x):
        """Twice x.

        Inputs:
        - x: a number.
        """
        # a comment that must not survive
        return 2 * x


    @staticmethod
    def triple(x):
        return 3 * x
    # END EXERCISE


    # BEGIN EXERCISE 02_conv_layers
    class Net:
        """A net."""

        scale = 2

        def __init__(self, k):
            self.k = k

        def forward(self, x):
            """Forward."""
            return double(x) * self.k


    async def later(x):
        return x
    # END EXERCISE


    def uses_double(x):
        return double(x) + math.pi * 0 + HELPER
    '''
)


@pytest.fixture(scope="module")
def fake_pkg(tmp_path_factory):
    root = tmp_path_factory.mktemp("src") / "fakekit"
    (root / "sub").mkdir(parents=True)
    (root / "grading").mkdir()
    (root / "__pycache__").mkdir()
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "layers.py").write_text(FAKE_LAYERS)
    (root / "grading" / "__init__.py").write_text("SECRET = 1\n")
    (root / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (root / "data.json").write_text("{}")
    return root


def _run(dest, code):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=dest,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(dest), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_gated_copy_stage_01_stubs_everything(fake_pkg, tmp_path):
    out = gated_copy("01_backprop", tmp_path, library=fake_pkg)
    assert out == tmp_path / "fakekit"
    assert not (out / "grading").exists() and not (out / "__pycache__").exists()
    assert (out / "data.json").exists()
    text = (out / "sub" / "layers.py").read_text()
    assert "2 * x" not in text and "a comment that must not survive" not in text
    assert "Inputs:" in text  # docstrings stay
    r = _run(
        tmp_path,
        """
        from fakekit.sub import layers as L
        import inspect
        for call in (lambda: L.double(1), lambda: L.Net(2), lambda: L.uses_double(1)):
            try:
                call()
            except NotImplementedError as e:
                print(e)
        print(inspect.signature(L.double), L.Net.scale, L.HELPER, L.Net.forward.__doc__)
        """,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "double is implemented by you in notebook 01_backprop"
    assert lines[1] == "Net.__init__ is implemented by you in notebook 02_conv_layers"
    assert lines[2] == "double is implemented by you in notebook 01_backprop"
    assert lines[3] == "(x) 2 3 Forward."


def test_gated_copy_stage_02_keeps_earlier_exercises(fake_pkg, tmp_path):
    out = gated_copy("02_conv_layers", tmp_path, library=fake_pkg)
    r = _run(
        tmp_path,
        """
        from fakekit.sub import layers as L
        print(L.double(2), L.triple(2), L.uses_double(1))
        try:
            L.Net(2)
        except NotImplementedError as e:
            print(e)
        """,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "4 6 5.0",
        "Net.__init__ is implemented by you in notebook 02_conv_layers",
    ]
    assert "# BEGIN EXERCISE 02_conv_layers" in (out / "sub" / "layers.py").read_text()


def test_later_stage_leaves_source_unchanged(fake_pkg):
    assert gate_source(FAKE_LAYERS, "03_pytorch_cnn") == FAKE_LAYERS


@pytest.mark.parametrize(
    "bad",
    [
        "# BEGIN EXERCISE 01_backprop\nX = 1\n# END EXERCISE\n",
        "# BEGIN EXERCISE 01_backprop\ndef f():\n    pass\n",
        "def f():\n    pass\n# END EXERCISE\n",
        "# BEGIN EXERCISE 01_backprop\n# BEGIN EXERCISE 01_backprop\n# END EXERCISE\n",
    ],
)
def test_bad_regions_fail_loudly(bad):
    with pytest.raises(GateError):
        gate_source(bad, "01_backprop")


def test_real_library_gates_and_imports(tmp_path):
    out = gated_copy("01_backprop", tmp_path)
    assert not (out / "grading").exists()
    r = _run(tmp_path, "import cnnkit, cnnkit.checks; print(cnnkit.__file__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out / "__init__.py")
