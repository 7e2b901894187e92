"""The output folder of runs: checked before anything else, cleaned after a refused run, and the
staging folder of a finished run moved into place, or under ``_failed/``, or removed when even
that cannot be done (a full disk), so that earlier reports are never touched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from analysis.errors import OutputFolderError
from analysis.run import runs


def _folder_error(out: Path, exc: OSError | None = None) -> OutputFolderError:
    reason = f"{exc.strerror or exc}" if exc is not None else "it is not writable by this user"
    return OutputFolderError(
        f"The output folder {out} cannot be written ({reason}); nothing was written. "
        f"Pass --out with a folder this user may write to, or free space on its disk."
    )


def prepare_out(out: Path) -> list[Path]:
    """Create ``out`` (and missing parents) and check that files can be created in it; the folders
    created here, deepest first (``discard_created`` removes them after a refused run).

    Raises OutputFolderError (exit 2) when it cannot be created or written."""
    missing = []
    folder = out
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if folder.exists() and not folder.is_dir():  # mkdir would only say "File exists" / "Not a directory"
        what = "The output folder" if folder == out else f"The output folder {out} cannot be created:"
        raise OutputFolderError(f"{what} {folder} is a file; pass --out with a folder.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _folder_error(out, exc) from None
    # os.access answers for this user (root may write a 0555 folder); a read-only file system
    # or a full disk shows up when the lock file is created, right after this.
    if not os.access(out, os.W_OK | os.X_OK):
        discard_created(out, missing)
        raise _folder_error(out)
    return missing


def discard_created(out: Path, created: list[Path]) -> None:
    """Undo ``prepare_out`` after a refused run: the lock files and the folders it created (only
    while they hold nothing else). The lock is released by then; a run waiting for it retries on
    the file it creates anew (filelock checks that the file it locked still has a name)."""
    if not created:
        return
    for name in (runs.OWNER_FILE, runs.LOCK_FILE):
        (out / name).unlink(missing_ok=True)
    for folder in created:
        try:
            folder.rmdir()
        except OSError:  # not empty (someone else's files) or already gone: leave it
            return


def move_into_place(tmp: Path, final: Path) -> Path | None:
    """Rename the staging folder to ``final`` (readers see the whole run or none of it); when even
    that fails (full disk, read-only folder), remove the staging folder instead. None then."""
    try:
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)
        return final
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return None
