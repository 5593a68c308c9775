"""Downloads that never leave a partial or unverified file behind.

A file is streamed into a hidden temporary file next to its destination, its checksum is checked once the
transfer is complete, and only then is it renamed into place (an atomic rename on one file system).
Anything else (HTTP error, timeout, wrong checksum, Ctrl-C) deletes the temporary file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

CHUNK = 1 << 20
TIMEOUT_S = 30.0


class DownloadError(RuntimeError):
    """Every mirror failed; the message lists each URL with its reason."""


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in chunks.

    Inputs:
    - path: the file.
    - algorithm: a hashlib name ('md5', 'sha256').

    Returns:
    - digest: lower-case hex string.
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _stream(url: str, fileobj, progress_desc: str | None) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "cnnkit"})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        bar = None
        if progress_desc:
            try:
                from tqdm.auto import tqdm

                # disable=None: a bar on terminals and notebooks, silent in logs and CI.
                bar = tqdm(total=total, unit="B", unit_scale=True, desc=progress_desc, disable=None)
            except ImportError:
                bar = None
        try:
            for block in iter(lambda: resp.read(CHUNK), b""):
                fileobj.write(block)
                if bar is not None:
                    bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()


def download(
    urls: list[str],
    dest: Path,
    checksum: str,
    algorithm: str = "md5",
    progress: bool = True,
) -> Path:
    """Fetch `dest` from the first URL that delivers a file with the expected checksum.

    Inputs:
    - urls: mirrors, tried in order.
    - dest: final path; its directory is created. Never exists afterwards unless verified.
    - checksum: expected hex digest of the complete file.
    - algorithm: hashlib name of the digest.
    - progress: show a tqdm bar (only on terminals and notebooks).

    Returns:
    - dest: the verified file.

    Raises DownloadError naming every URL tried and why it failed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                _stream(url, f, dest.name if progress else None)
            got = file_digest(tmp, algorithm)
            if got != checksum.lower():
                failures.append(f"{url}: {algorithm} mismatch (got {got}, expected {checksum})")
                continue
            os.replace(tmp, dest)
            return dest
        except urllib.error.HTTPError as exc:
            failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            failures.append(f"{url}: {reason}")
        finally:
            # Also runs on KeyboardInterrupt: a half-written file must never look like data.
            tmp.unlink(missing_ok=True)
    tried = "\n  ".join(failures) if failures else "(no mirrors configured)"
    raise DownloadError(f"could not download {dest.name}; tried:\n  {tried}")
