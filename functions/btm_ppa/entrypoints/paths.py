"""The CLI's checks of output paths (before anything is fetched or written) and its
version."""

from __future__ import annotations

import os
from pathlib import Path

from btm_ppa.errors import RequestError


def check_output_path(flag: str, path: Path, suffixes: tuple[str, ...],
                       new_folder: bool = False) -> None:
    """Refuse an output path that cannot be written, before anything is fetched or
    written: wrong kind of file, a folder, a folder that does not exist (never created
    silently: with ``new_folder`` the caller creates it and says so), or one that cannot
    be written."""
    if path.suffix.lower() not in suffixes:
        raise RequestError(f"{flag} {path}: expected a file name ending in "
                           f"{' or '.join(suffixes)}")
    if path.is_dir():
        raise RequestError(f"{flag} {path} is a folder: expected a file path")
    parent = path.parent
    if new_folder:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent  # the folder that will hold the new ones
    if not parent.exists():
        raise RequestError(f"{flag} {path}: the folder {parent} does not exist; create it "
                           "first (nothing was written)")
    if not parent.is_dir():
        raise RequestError(f"{flag} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RequestError(f"{flag} {path}: the folder {parent} cannot be written "
                           "(permission denied)")
    if path.exists() and not os.access(path, os.W_OK):
        raise RequestError(f"{flag} {path}: the file cannot be written (permission denied)")


def cli_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("btm-ppa")
    except PackageNotFoundError:  # run from a source tree that was not installed
        from btm_ppa import __version__

        return __version__


def check_export_path(export: Path) -> None:
    """Refuse an export path that cannot be written, before the workbook is touched."""
    check_output_path("--export-schedule", export, (".csv", ".parquet"))
