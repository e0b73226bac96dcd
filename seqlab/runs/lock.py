"""One writer per run folder: an OS lock (flock) on <run>/.lock, held while a process writes it.

The OS drops a flock when the process holding it dies, however it dies (kill -9 included),
so a lock is never stale: the file's text (PID, host, start time) only names the holder in
the message a second writer gets. A clean release deletes the file, so a finished run
folder has no `.lock`. Readers (sample, eval, compare, attention) never take the lock:
the files they read are replaced atomically or appended line by line.

Under multi-process training only the process that writes the folder (rank 0, or the
launcher that spawns the ranks) holds it.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from seqlab.errors import SeqlabError
from seqlab.runs import LOCK

LOCK_NAME = LOCK


class RunBusyError(SeqlabError):
    """Another process holds the run folder's lock."""


class RunLock:
    """An exclusive, non-blocking lock on one run folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise RunBusyError naming the holder; the folder is left as it was."""
        while self._fd is None:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunBusyError(f"run folder '{self.folder}' is being written by another seqlab process "
                                   f"({holder}); wait for it to end or stop it, then try again") from None
            if _same_file(fd, self.path):
                self._fd = fd
            else:  # its holder released (and deleted) it after we opened it: lock the current file
                os.close(fd)
        _write_holder(self._fd)

    def release(self) -> None:
        """Delete the lock file while still holding it, then drop the lock."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise SeqlabError(f"run folder '{self.folder}' cannot be written: {err.strerror or err}") from None


def _same_file(fd: int, path: Path) -> bool:
    """Whether `fd` is still the file at `path` (a releasing holder deletes it)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _write_holder(fd: int) -> None:
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {started}\n".encode(), 0)
    except OSError:  # a full disk: the lock holds all the same, only its label is missing
        pass


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown: it has just started"
