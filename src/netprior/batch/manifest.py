"""The run log of a batch: ``OUT_DIR/manifest.jsonl``, one JSON object per line, appended by the driver only.

Each finished image adds one record::

    {"input": "a/b.jpg", "sha256": "…", "config": "…", "output": "a/b.png", "files": ["a/b.png", "a/b.json"],
     "status": "done" | "failed", "seconds": 12.3, "cpu_seconds": 12.1, "metrics": {...}, "error": null | "one line", "attempts": 1,
     "notes": [...], "worker": "host:pid", "finished": "2026-11-26T06:00:00+0000"}

The file is append-only: a rerun adds records, and the *latest* record of an input is its state.  Every line is
written with one ``write`` call, flushed and ``fsync``'d before the next image is reported, and an image's files are
written before its record, so a ``done`` record always names files that exist.  A run killed mid-write can leave a
partial last line: reading ignores a last line without its newline, and opening for append cuts it off first.  An
exclusive ``flock`` on the file keeps two drivers from writing the same folder at once.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from ..errors import InputError

MANIFEST = "manifest.jsonl"


def read_records(path: str | os.PathLike) -> list[dict]:
    """All complete records of a manifest, in order (a missing file has none; a torn last line is skipped)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_bytes().split(b"\n")[:-1]:  # the piece after the last newline is empty or torn
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a crash of an older writer; its image simply counts as not done
    return records


def latest(records: list[dict]) -> dict[str, dict]:
    """The latest record of each input (the state of the collection)."""
    return {r["input"]: r for r in records}


class ManifestWriter:
    """Appends records to ``manifest.jsonl`` durably (see the module docstring); use as a context manager."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._f = None

    def __enter__(self) -> "ManifestWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "ab+")
        try:
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._f.close()
            raise InputError(f"{self.path}: another batch is writing to this folder") from None
        self._cut_torn_tail()
        return self

    def _cut_torn_tail(self) -> None:
        f = self._f
        f.seek(0)
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            f.truncate(end)
            os.fsync(f.fileno())

    def append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        self._f.write(line)
        self._f.flush()
        os.fsync(self._f.fileno())

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._f.fileno(), fcntl.LOCK_UN)
        self._f.close()
