"""Similarity of the student-written code across a batch, exercise by exercise, with copydetect.

copydetect (winnowing fingerprints over pygments tokens, names and strings normalized, so renamed
variables and rewritten comments do not hide a copy) fingerprints each student's cell of each exercise
with the starter code's fingerprints removed as boilerplate, and compares every pair of students on
that exercise. A pair is flagged on an exercise when both wrote enough code of their own and the larger
of the two overlap fractions reaches the threshold. Flags are evidence for a person to read, never a
penalty: nothing here touches a score.
"""

from __future__ import annotations

import html
import io
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnnkit.grading.exercises import Exercise

# copydetect's own defaults: noise threshold 25 characters of normalized code (k) and a guarantee
# threshold of 30 (every shared run that long is found), so the winnowing window is 30 - 25 + 1
NOISE = 25
GUARANTEE = 30
THRESHOLD = 0.8
# normalized characters a student must have written beyond the starter for a cell to be compared
MIN_TOKENS = 60


@dataclass
class Match:
    """One flagged exercise of a pair: overlap fractions and the copied spans in each raw cell."""

    exercise: str
    score: float  # max(score_a, score_b)
    score_a: float
    score_b: float
    spans_a: list[list[int]]  # [start, end) character spans of the overlap in a's cell
    spans_b: list[list[int]]


@dataclass
class Pair:
    a: str
    b: str
    compared: int  # exercises both wrote enough code for
    matches: list[Match] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Mean overlap over the flagged exercises."""
        return sum(m.score for m in self.matches) / len(self.matches) if self.matches else 0.0


@dataclass
class SimilarityReport:
    threshold: float
    min_tokens: int
    exercises: list[str]
    submissions: int
    pairs: list[Pair]  # flagged pairs only, most flagged exercises first

    def to_json(self) -> str:
        data = asdict(self)
        for p, d in zip(self.pairs, data["pairs"], strict=True):
            d["score"] = round(p.score, 4)
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SimilarityReport:
        data = json.loads(text)
        pairs = []
        for p in data.pop("pairs"):
            p.pop("score", None)
            p["matches"] = [Match(**m) for m in p["matches"]]
            pairs.append(Pair(**p))
        return cls(pairs=pairs, **data)


def _fingerprint(code: str, boilerplate=None):
    from copydetect import CodeFingerprint

    # the code comes from fp; the file name is only a label
    return CodeFingerprint(
        "cell.py",
        NOISE,
        GUARANTEE - NOISE + 1,
        boilerplate=boilerplate,
        language="python",
        fp=io.StringIO(code),
    )


def compare(
    codes: dict[str, dict[str, str]],
    exercises: list[Exercise],
    threshold: float = THRESHOLD,
    min_tokens: int = MIN_TOKENS,
) -> SimilarityReport:
    """Compare every pair of submissions on every exercise.

    Inputs:
    - codes: {submission: {exercise name: the student's cell}} (see exercises.student_code).
    - exercises: the stage's exercises with their starter code (the boilerplate).
    - threshold: overlap fraction (0..1) that flags an exercise of a pair.
    - min_tokens: normalized characters of a student's own code below which a cell is not compared.

    Returns:
    - report: the flagged pairs, sorted by number of flagged exercises then score.
    """
    import numpy as np
    from copydetect import compare_files

    names = sorted(codes)
    prints: dict[str, dict[str, object]] = {n: {} for n in names}
    for ex in exercises:
        boilerplate = np.array(sorted(_fingerprint(ex.starter).hashes), dtype=np.int64)
        for n in names:
            fp = _fingerprint(codes[n].get(ex.name, ""), boilerplate)
            if fp.token_coverage >= min_tokens:
                prints[n][ex.name] = fp
    # copydetect scores a pair without a shared fingerprint 0: an inverted index (fingerprint ->
    # submissions) finds the pairs worth comparing, so a class of independent work costs ~n, not n^2
    sharing: dict[str, set[tuple[str, str]]] = {}
    for ex in exercises:
        holders: dict[int, list[str]] = {}
        for n in names:
            if ex.name in prints[n]:
                for h in prints[n][ex.name].hashes:
                    holders.setdefault(h, []).append(n)
        sharing[ex.name] = {p for ns in holders.values() for p in itertools.combinations(ns, 2)}
    pairs = []
    for a, b in itertools.combinations(names, 2):
        pair = Pair(a, b, compared=0)
        for ex in exercises:
            fa, fb = prints[a].get(ex.name), prints[b].get(ex.name)
            if fa is None or fb is None:
                continue
            pair.compared += 1
            if (a, b) not in sharing[ex.name]:
                continue
            _, (sa, sb), (slices_a, slices_b) = compare_files(fa, fb)
            score = float(max(sa, sb))
            if score >= threshold:
                pair.matches.append(
                    Match(
                        ex.name,
                        round(score, 4),
                        round(float(sa), 4),
                        round(float(sb), 4),
                        _spans(slices_a),
                        _spans(slices_b),
                    )
                )
        if pair.matches:
            pairs.append(pair)
    pairs.sort(key=lambda p: (-len(p.matches), -p.score, p.a, p.b))
    return SimilarityReport(threshold, min_tokens, [e.name for e in exercises], len(names), pairs)


def _spans(slices) -> list[list[int]]:
    if len(slices) == 0 or len(slices[0]) == 0:
        return []
    return [[int(s), int(e)] for s, e in zip(slices[0], slices[1], strict=True)]


def highlight(code: str, spans: list[list[int]]) -> str:
    """The cell as HTML with the overlapping spans in <mark> (escaped; spans merged in order)."""
    out, pos = [], 0
    for start, end in sorted(spans):
        start = max(start, pos)
        if end <= start:
            continue
        out += [html.escape(code[pos:start]), "<mark>", html.escape(code[start:end]), "</mark>"]
        pos = end
    out.append(html.escape(code[pos:]))
    return "".join(out)


def load(path: Path) -> SimilarityReport | None:
    """similarity.json of a graded batch, or None when the batch has none."""
    path = Path(path)
    return SimilarityReport.from_json(path.read_text()) if path.exists() else None
