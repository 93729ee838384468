"""A directory goodwill writes into: claimed, locked, and a ledger of the files it wrote.

goodwill deletes files in its output directories (an earlier run's outputs that the new one
does not produce), so it writes only where it knows what is its own. :class:`OwnedDirectory`
is that knowledge:

- **claimed**: a marker file (:data:`MARKER`) makes a directory goodwill's. A new or empty
  directory is claimed; a non-empty one without the marker belongs to someone else and is
  refused unless adopted (``adopt=True``, ``--adopt``), and even then nothing of its own is
  deleted. A run directory written before the marker existed is recognised by its manifest.
- **locked**: one process at a time (a lock file, :data:`LOCK`, through the ``filelock``
  library's ``flock``; the kernel releases it when the process dies, even by SIGKILL). A
  second process is refused at once with a one-line error.
- **a ledger**: the marker lists every file goodwill wrote there, recorded *before* the file
  is written, so even a killed command leaves a ledger that covers its files. Only files in
  the ledger are ever deleted (:meth:`OwnedDirectory.discard`).

Claiming also removes the temporary files of writes killed midway
(:func:`sim.store.remove_stale_temporaries`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from sim.store import remove_stale_temporaries, write_json

MARKER = ".goodwill-run.json"
"""The marker of a directory goodwill owns: JSON with the ledger of the files it wrote."""

LOCK = ".goodwill-run.lock"
"""The lock file of an owned directory."""

LEGACY_MANIFEST = "manifest.json"
"""A run directory of a release before the marker is recognised by its manifest."""


class DirectoryError(OSError):
    """An output directory goodwill may not write in (another's, or in use); one line."""


class OwnedDirectory:
    """A directory goodwill writes into, claimed and locked while the object is entered.

    Parameters
    ----------
    path : str or pathlib.Path
        The directory (created if missing).
    adopt : bool
        Write into a non-empty directory that goodwill did not create. Its files are kept;
        files with the names goodwill writes are replaced.
    create : bool
        Create the directory if it is missing (False: a missing directory is an error, for
        commands that change an existing run).

    Examples
    --------
    >>> with OwnedDirectory("runs/quick") as owned:  # doctest: +SKIP
    ...     owned.own("summary.txt")
    ...     write_text(owned.path / "summary.txt", "...")
    """

    def __init__(self, path: str | Path, *, adopt: bool = False, create: bool = True) -> None:
        self.path = Path(path)
        self.adopt = adopt
        self.create = create
        self.files: set[str] = set()
        self.touched: set[str] = set()
        self.pending: str | None = None
        self._lock: FileLock | None = None

    def __enter__(self) -> OwnedDirectory:
        self.claim()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def claimed(self) -> bool:
        return self._lock is not None

    def claim(self) -> None:
        """Create (if missing), check, lock and mark the directory; remove stale temporaries.

        Raises
        ------
        DirectoryError
            If the path is not a directory, is missing (``create`` False), cannot be created
            or written, holds files that
            are not goodwill's (and ``adopt`` is False), or another process holds its lock.
        """
        path = self.path
        if not self.create and not path.is_dir():
            raise DirectoryError(f"{path}: no such run directory; run `goodwill run CONFIG` first")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise DirectoryError(f"{path}: exists and is not a directory") from None
        except OSError as exc:
            raise DirectoryError(f"{path}: cannot create the directory: {exc.strerror}") from None
        ledger = self._read_ledger()
        if ledger is None and not self.adopt:
            foreign = sorted(p.name for p in path.iterdir() if p.name != LOCK)
            if foreign:
                raise DirectoryError(
                    f"{path}: not empty ({len(foreign)} entries, e.g. {foreign[0]!r}) and not a "
                    f"goodwill directory (no {MARKER}); goodwill replaces and deletes files in "
                    "its own directories, so choose a new or empty one (or pass --adopt to "
                    "write here, keeping every file that is not goodwill's)"
                )
        lock = FileLock(path / LOCK, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise DirectoryError(
                f"{path}: in use by another goodwill process (it holds {path / LOCK}); wait "
                "for it to finish or write elsewhere"
            ) from None
        except OSError as exc:
            raise DirectoryError(f"{path}: cannot lock the directory: {exc.strerror}") from None
        self._lock = lock
        try:
            self.files = set(self._read_ledger() or ())  # read again: now nobody else writes
            self.pending = self._read_marker().get("pending")
            self.touched = set()
            self._write_ledger()
            remove_stale_temporaries(path)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Release the lock (the marker and ledger stay)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def own(self, name: str) -> Path:
        """Record ``name`` (relative to the directory) in the ledger before it is written,
        and as written since the claim; return its path."""
        self._require_claim()
        self.touched.add(name)
        if name not in self.files:
            self.files.add(name)
            self._write_ledger()
        return self.path / name

    def discard(self, replaced: Callable[[str], bool]) -> list[str]:
        """Delete the files of the ledger that ``replaced`` names and that were not written
        since the claim: an earlier command's outputs that this one did not write again.

        Returns
        -------
        list of str
            The names deleted.
        """
        self._require_claim()
        gone = sorted(n for n in self.files if replaced(n) and n not in self.touched)
        for name in gone:
            (self.path / name).unlink(missing_ok=True)
        self.files = {n for n in self.files if n not in gone and (self.path / n).is_file()}
        self._write_ledger()
        return gone

    def remove(self, name: str) -> None:
        """Delete a file of the ledger (written or not) and drop it from the ledger."""
        self._require_claim()
        if name in self.files:
            (self.path / name).unlink(missing_ok=True)
            self.files.discard(name)
            self.touched.discard(name)
            self._write_ledger()

    def set_pending(self, command: str | None) -> None:
        """Record the command under way (None: none), so that a command killed midway is
        known to the next one."""
        self._require_claim()
        self.pending = command
        self._write_ledger()

    def _require_claim(self) -> None:
        if not self.claimed:
            raise RuntimeError(f"{self.path}: claim the directory before writing in it")

    def _read_marker(self) -> dict:
        """The marker's content ({} without a marker)."""
        marker = self.path / MARKER
        if not marker.is_file():
            return {}
        try:
            content = json.loads(marker.read_text(encoding="utf-8"))
            if not isinstance(content["files"], list):
                raise TypeError
        except (ValueError, KeyError, TypeError, OSError):
            raise DirectoryError(
                f"{marker}: damaged goodwill marker (expected JSON with a list 'files'); "
                "remove it only if nothing else writes in this directory"
            ) from None
        return content

    def _read_ledger(self) -> list[str] | None:
        """The ledger, or None if the directory is not goodwill's."""
        content = self._read_marker()
        if content:
            return [str(f) for f in content["files"]]
        manifest = self.path / LEGACY_MANIFEST
        if manifest.is_file():
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                return None
            if isinstance(old, dict) and "goodwill_version" in old:
                figures = [f"figures/{name}" for name in old.get("figures") or ()]
                return [LEGACY_MANIFEST, *(old.get("files") or ()), *figures]
        return None

    def _write_ledger(self) -> None:
        write_json(
            self.path / MARKER,
            {
                "goodwill": "a directory goodwill writes in",
                "files": sorted(self.files),
                "pending": self.pending,
            },
        )
