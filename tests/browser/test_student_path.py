"""The student's path through stage 01 in a real browser: JupyterLab + headless Chromium.

A released student repository (`cnnkit release --stage 1`) is served by JupyterLab; Playwright opens
the stage-01 notebook as a student would, runs the bootstrap cell, types the answer of Q1 into its
cells through the editor, runs `grader.check("q1")` and reads what the page shows: passing for the
reference answer, failing with the public message for a wrong one. A plotting cell must render an
image. Screenshots of those moments go to tests/browser/screenshots/.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
MASTER = REPO / "solutions" / "01_backprop" / "01_backprop.py"
NOTEBOOK = "assignments/01_backprop/01_backprop.ipynb"
MARKERS = ("# BEGIN SOLUTION", "# END SOLUTION")
# Generous UI waits (ms): two busy cores, a cold kernel importing torch for the check.
WAIT = 90_000
# Student code that runs but is wrong: every output zero.
WRONG_SIGMOID_CIRCUIT = (
    "def sigmoid_circuit(w0, x0, w1, x1, w2):\n"
    "    return 0.0, {k: 0.0 for k in ('w0', 'x0', 'w1', 'x1', 'w2')}\n"
)


def master_cell(func: str) -> str:
    """The stage-01 master's solution cell that defines `func`, as written (with otter's markers)."""
    cells = re.split(r"^# %%.*$", MASTER.read_text(encoding="utf-8"), flags=re.MULTILINE)
    for cell in cells:
        if re.search(rf"^def {func}\(", cell, flags=re.MULTILINE):
            return cell.strip("\n")
    raise LookupError(f"no solution cell defines {func} in {MASTER}")


def master_solution(func: str) -> str:
    """The master's solution cell for `func` without otter's markers: what a student who solved it has.

    Inputs:
    - func: a function name defined in a solution cell of the stage-01 master.

    Returns:
    - source: the cell's code.
    """
    lines = [ln for ln in master_cell(func).splitlines() if ln.strip() not in MARKERS]
    return "\n".join(lines).rstrip() + "\n"


def solution_region(func: str) -> list[str]:
    """The code lines between the markers of `func`'s solution cell (what students must write)."""
    text = master_cell(func)
    regions = re.findall(r"# BEGIN SOLUTION\n(.*?)\n\s*# END SOLUTION", text, flags=re.DOTALL)
    assert regions, f"no solution region in the master's {func} cell"
    lines = (ln.strip() for region in regions for ln in region.splitlines())
    # comments may stay in a stub as hints; code lines may not
    return [ln for ln in lines if ln and not ln.startswith("#")]


def code_cell(page, text: str, unique: bool = True):
    """The code cell whose source contains `text` (the first one in the notebook unless `unique`)."""
    cells = page.locator(".jp-Notebook .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea-editor", has_text=text)
    )
    cells.first.wait_for(state="attached", timeout=WAIT)
    if unique:
        assert cells.count() == 1, f"{cells.count()} code cells contain {text!r}"
    return cells.first


def wait_idle(page) -> None:
    """Wait for the notebook toolbar's kernel indicator to say idle."""
    page.wait_for_selector(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']",
        timeout=WAIT,
    )


def focus_editor(page, cell) -> None:
    """Click into a cell's editor and wait until it is the active cell with a focused editor."""
    from playwright.sync_api import expect

    cell.locator(".jp-InputArea-editor .cm-content").click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"), timeout=WAIT)
    expect(cell.locator(".cm-editor")).to_have_class(re.compile(r"\bcm-focused\b"), timeout=WAIT)


def run_cell(page, cell) -> None:
    """Run a cell with Ctrl+Enter and wait until it has finished (prompt shows its count)."""
    from playwright.sync_api import expect

    prompt = cell.locator(".jp-InputArea-prompt")
    before = prompt.inner_text()
    # A key press that lands while the page is still settling is lost; pressing again is safe as
    # long as the prompt shows the cell was not queued ("[*]") or run.
    for _attempt in range(3):
        focus_editor(page, cell)
        page.keyboard.press("Control+Enter")
        try:
            expect(prompt).not_to_have_text(before, timeout=15_000)
            break
        except AssertionError:
            continue
    expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=WAIT)
    wait_idle(page)


def set_source(page, cell, code: str) -> None:
    """Replace a cell's source through its CodeMirror editor: click, select all, insert the text."""
    from playwright.sync_api import expect

    editor = cell.locator(".jp-InputArea-editor .cm-content")
    focus_editor(page, cell)
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # insert_text sends the whole text as one input, so the editor's auto-indent and bracket
    # closing (which act on typed keys) leave it as it is.
    page.keyboard.insert_text(code)
    expect(editor).to_contain_text(code.strip().splitlines()[-1].strip(), timeout=WAIT)
    # innerText doubles the newline of an empty line, so compare the non-blank lines
    shown = editor.inner_text().replace("\u00a0", " ")
    assert _lines(shown) == _lines(code), f"the editor holds something else:\n{shown}"


def _lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.splitlines() if ln.strip()]


def snap(page, element, path: Path) -> None:
    """Screenshot of the page with `element` in the middle of the notebook's view."""
    element.evaluate("(el) => el.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)  # let the scroll and lazy rendering settle before the picture
    page.screenshot(path=str(path))


def output_text(cell) -> str:
    return cell.locator(".jp-OutputArea").inner_text()


def test_student_path_in_jupyterlab(lab, chromium, screenshots):
    page = chromium["context"].new_page()
    try:
        _student_path(page, lab, chromium, screenshots)
    except BaseException:
        with contextlib.suppress(Exception):  # the picture must not hide the failure
            page.screenshot(path=str(screenshots / "failure.png"))
        print(f"JupyterLab log (tail):\n{lab.log()}")
        raise


def _student_path(page, lab, chromium, screenshots):
    import psutil
    from playwright.sync_api import expect

    t0 = time.monotonic()

    def step(what: str) -> None:
        print(f"  {time.monotonic() - t0:6.1f}s  {what}")

    lab.wait_ready()
    step("JupyterLab answers /api/status")

    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}", timeout=WAIT)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=WAIT)
    wait_idle(page)
    step("notebook open, kernel idle")

    # The bootstrap cell: prints the version, where cnnkit came from (the release's gated lib) and
    # the device, in the page.
    boot = code_cell(page, "bootstrap(", unique=False)
    run_cell(page, boot)
    expect(boot.locator(".jp-OutputArea")).to_contain_text("imported from", timeout=WAIT)
    boot_out = output_text(boot)
    assert "imported from" in boot_out, boot_out
    assert str(lab.root / "lib" / "cnnkit") in boot_out, boot_out
    assert "Error" not in boot_out, boot_out
    step("bootstrap cell ran")

    # otter's init cell and the imports/seed cell, as a student runs them top to bottom
    run_cell(page, code_cell(page, "otter.Notebook("))
    setup = code_cell(page, "seed_everything(", unique=False)
    run_cell(page, setup)
    assert "Error" not in output_text(setup), output_text(setup)
    step("otter init and imports ran")

    # Q1 answered with the reference implementation, typed into the answer cells
    q1_cells = {
        func: code_cell(page, f"def {func}(") for func in ("sigmoid_circuit", "max_copy_circuit")
    }
    for func, cell in q1_cells.items():
        answer = master_solution(func)
        # the released cell is the stub: none of the solution's own lines is in the page
        stub = [ln.strip() for ln in _lines(cell.locator(".cm-content").inner_text())]
        assert "..." in stub, stub
        shown = set(solution_region(func)) & set(stub)
        assert not shown, f"solution lines in the released notebook: {shown}"
        set_source(page, cell, answer)
        run_cell(page, cell)
        assert output_text(cell).strip() == "", output_text(cell)
    check = code_cell(page, 'grader.check("q1")')
    step("answer cells typed and run")
    run_cell(page, check)
    step("grader.check ran")
    out = check.locator(".jp-OutputArea")
    expect(out).to_contain_text("q1", timeout=WAIT)
    passed = output_text(check)
    assert re.search(r"q1.*passed", passed, flags=re.IGNORECASE | re.DOTALL), passed
    assert not re.search(r"fail", passed, flags=re.IGNORECASE), passed
    snap(page, out, screenshots / "q1-passing.png")
    step("passing check seen")

    # A plot the notebook draws from the student's answer renders as an image in the page
    plot = code_cell(page, "show_circuit(2.0")
    run_cell(page, plot)
    img = plot.locator(".jp-OutputArea-output img")
    expect(img).to_have_count(1, timeout=WAIT)
    assert (img.get_attribute("src") or "").startswith("data:image/png")
    snap(page, img, screenshots / "plot.png")
    step("plot seen")
    box = img.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100, box
    assert page.evaluate("(el) => el.complete && el.naturalWidth > 0", img.element_handle())

    # A wrong answer: the check fails and shows the public case's message (never expected values)
    cell = q1_cells["sigmoid_circuit"]
    set_source(page, cell, WRONG_SIGMOID_CIRCUIT)
    run_cell(page, cell)
    run_cell(page, check)
    expect(out).to_contain_text("relative error", timeout=WAIT)
    failed = output_text(check)
    # the sigmoid_circuit case fails with its public message; the max_copy_circuit case still passes
    assert re.search(r"q1 - 1 result:\s+\S*\s*Test case failed", failed), failed
    assert "CheckFailed: L: relative error" in failed, failed
    assert "above the tolerance" in failed, failed
    assert re.search(r"q1 - 2 result:\s+\S*\s*Test case passed", failed), failed
    assert "0.7310" not in failed, "a public message shows the expected value"
    snap(page, out, screenshots / "q1-failing.png")
    step("failing check seen")

    # A written question: the student types an answer into its markdown answer cell and saves; the
    # grader's packet for the question shows that answer (read from the saved notebook's JSON)
    answer_text = "The relative errors are about 1e-10, far below 1e-6: my backward pass is right."
    stub = page.locator(".jp-Notebook .jp-MarkdownCell").filter(has_text="Type your answer here")
    stub.first.wait_for(state="attached", timeout=WAIT)
    # pinned by its position: the filter would move on to w2's stub once this one is answered
    where = stub.first.get_attribute("data-windowed-list-index")
    md = page.locator(f".jp-Notebook .jp-Cell[data-windowed-list-index='{where}']")
    md.evaluate("(el) => el.scrollIntoView({block: 'center'})")
    md.dblclick()
    editor = md.locator(".jp-InputArea-editor .cm-content")
    expect(editor).to_be_visible(timeout=WAIT)
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(answer_text)
    page.keyboard.press("Shift+Enter")  # render it, as a student finishes an answer
    expect(md).to_contain_text(answer_text, timeout=WAIT)
    page.keyboard.press("Control+S")
    saved = lab.root / NOTEBOOK
    deadline = time.monotonic() + 60
    while answer_text not in saved.read_text(encoding="utf-8") and time.monotonic() < deadline:
        time.sleep(0.5)
    snap(page, md, screenshots / "written-answer.png")
    step("written answer typed and saved")
    from cnnkit.grading import written

    questions = written.load_questions(REPO, "01_backprop")
    starter = json.loads((REPO / NOTEBOOK).read_text(encoding="utf-8"))
    found = written.find_answers(json.loads(saved.read_text(encoding="utf-8")), questions, starter)
    assert found["w1"].text == answer_text, found["w1"]
    packet = written.packet_html("01_backprop", questions[0], [written.Entry("me", "x", found)])
    assert answer_text in packet and found["w1"].hash in packet
    step("the grader's packet shows the written answer")

    assert not errors, f"JavaScript errors in the page: {errors}"

    # Shut everything down and leave nothing behind
    kernel_and_server = lab.descendants()
    assert len(kernel_and_server) >= 2, "expected the server and a kernel process"
    browser_procs = [
        p
        for p in psutil.Process().children(recursive=True)
        if "chrom" in (p.name() or "").lower() or "node" in (p.name() or "").lower()
    ]
    assert browser_procs, "expected Chromium processes while the browser is open"
    chromium["close"]()
    lab.stop()
    _, alive = psutil.wait_procs(kernel_and_server + browser_procs, timeout=15)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"processes left behind: {[(p.pid, p.name()) for p in alive]}"
    left = [
        (p.pid, p.name(), p.cmdline()[:3])
        for p in psutil.Process().children(recursive=True)
        if p.status() != psutil.STATUS_ZOMBIE
    ]
    assert not left, f"child processes of the test left behind: {left}"
    step("JupyterLab and Chromium shut down, no process left")
