"""Generation files: an 8-byte counter mapped shared by every process of a machine.

A store bumps its generation after each committed change, and a request compares one
memory word with the value it saw last instead of asking the database
(:class:`~omeapi._stores.base.Generation`).  The SQLite store keeps its file beside the
database; the PostgreSQL store keeps one per database in a private directory of the
user (:func:`machine_generation`), so the workers of one machine share it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import mmap
import os
import stat
import tempfile

__all__ = ["GenerationFile", "machine_generation", "private_directory"]

log = logging.getLogger("omeapi")

_MASK = 0xFFFF_FFFF_FFFF_FFFF


class GenerationFile:
    """The counter in the file at ``path`` (created ``0600`` if missing).

    :attr:`word` is the mapped counter itself (read ``word[0]``).  :meth:`bump` is atomic
    across threads and processes: an increment lost to a race could set the counter back
    to a value a reader has already seen, hiding a later change from it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            # Extending an empty file is idempotent: a second opener finds 8 bytes and
            # leaves them as they are.
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)
        # One aligned native word: a read or a write is one memory access.
        self.word = memoryview(self._map).cast("Q")

    def bump(self) -> None:
        """Add one, under an exclusive ``flock`` of the file.  A descriptor of its own per
        call: locks on a descriptor shared with other threads (or inherited over a fork)
        would not exclude them."""
        fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.word[0] = (self.word[0] + 1) & _MASK
        finally:
            os.close(fd)  # releases the lock

    def close(self) -> None:
        self.word.release()
        self._map.close()


def private_directory() -> str:
    """This user's directory for omeapi's machine-wide files (``$XDG_RUNTIME_DIR`` or the
    temporary directory, then ``omeapi-<uid>``), created ``0700``.  Raises OSError unless
    it is a real directory of this user that nobody else can write to."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = os.path.join(base, f"omeapi-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    # lstat: a symlink planted by another user must not redirect our files.
    found = os.lstat(path)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        raise OSError(f"{path} is not a private directory of this user")
    return path


def machine_generation(identity: str) -> GenerationFile | None:
    """The generation file of the store named by ``identity`` (the same string in every
    process that opens that store), or None, logged, when no private directory can hold
    it (the store then checks its database on every request)."""
    name = hashlib.sha256(identity.encode()).hexdigest()[:32] + ".generation"
    try:
        return GenerationFile(os.path.join(private_directory(), name))
    except (OSError, ValueError) as exc:
        log.warning("no shared generation file (%s): every request reads the store", exc)
        return None
