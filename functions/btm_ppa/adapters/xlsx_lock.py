"""Where a local workbook's refresh lock lives: one lock file per real workbook path, in a
shared temporary folder (the workbook's own folder may be read-only); an unusable folder
is a message naming TMPDIR, never a crash."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from btm_ppa.errors import WorkbookUnavailableError


def lock_path(target: Path) -> Path:
    """One lock file per real workbook path, in a shared temporary folder (the workbook's
    own folder may be read-only)."""
    folder = Path(tempfile.gettempdir()) / "btm-ppa-locks"
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:  # FileExistsError too: a file of that name is in the way
        if folder.is_symlink() and not folder.exists():
            what = f"a link to {os.readlink(folder)}, which does not exist"
        elif folder.exists() and not folder.is_dir():
            what = "a file, not a folder"
        else:
            what = exc.strerror or str(exc)
        raise WorkbookUnavailableError(
            f"the lock folder {folder} cannot be used ({what}), so the workbook was not "
            "written: remove what is in the way, or set TMPDIR to a folder you can write"
            ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WorkbookUnavailableError(
            f"the lock folder {folder} cannot be written (permission denied), so the workbook "
            "was not written: set TMPDIR to a folder you can write")
    with contextlib.suppress(OSError):
        folder.chmod(0o1777)  # every user's refreshes share it, like /tmp
    digest = hashlib.sha256(str(target).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return folder / f"{digest}.lock"
