"""The archive offered as a download the browser can follow, in JupyterLab and in the Voilà app.

The panel copies the encrypted archive into a folder beside the notebook (`downloads/`, the kernel's working folder
is the notebook's) and shows a link relative to the notebook: JupyterLab serves it through its `files/` handler,
Voilà through `voila/files/` when `./run app` allows `downloads/*.zip` (`--VoilaConfiguration.file_allowlist`).
The folder ignores itself in git (its own `.gitignore`), and copies older than a day are removed whenever the panel
opens or makes a new one: the register's archive under `<workspace>/exports/` stays the original (`privacyops export
purge`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import ipywidgets as widgets

from .common import esc as _e

DOWNLOADS = "downloads"
KEEP_SECONDS = 24 * 3600  # copies older than this go when the next one is made


def offer_download(archive: Path, folder: str | Path = DOWNLOADS) -> tuple[Path, str | None]:
    """Copy `archive` into `folder` (relative to the notebook's folder, the working folder); return the copy and
    the link to it relative to the notebook (None when the folder is not under the notebook's folder)."""
    target = Path(folder).resolve()
    target.mkdir(parents=True, exist_ok=True)
    ignore = target / ".gitignore"
    if not ignore.exists():  # copies of subject archives never go into git, wherever the folder is
        ignore.write_text("# copies of subject archives the export panel offers for download\n*\n")
    prune_downloads(target)
    dest = target / archive.name
    staging = target / f".{archive.name}.{secrets.token_hex(4)}.tmp"
    shutil.copyfile(archive, staging)  # whole or not at all: the link never serves half a file
    os.chmod(staging, 0o600)
    os.replace(staging, dest)
    rel = os.path.relpath(dest, Path.cwd().resolve())
    href = None if rel.startswith("..") else quote(Path(rel).as_posix())
    return dest, href


def prune_downloads(folder: Path, keep_seconds: float = KEEP_SECONDS) -> list[Path]:
    """Remove the archive copies (and leftover staging files) older than `keep_seconds` from `folder`."""
    cutoff = time.time() - keep_seconds
    gone = []
    for p in folder.iterdir():
        if p.is_file() and (p.suffix == ".zip" or p.name.endswith(".tmp")) and p.stat().st_mtime < cutoff:
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


def download_html(copy: Path, href: str | None, sha256: str, size: int) -> str:
    """The download link (with the `download` attribute: the browser saves the file) and what to check."""
    if href is None:
        where = f'The archive copy is at <code>{_e(copy)}</code> (outside the notebook\'s folder: no link).'
    else:
        where = (f'<a class="po-download-link" href="{_e(href)}" download="{_e(copy.name)}">'
                 f'⬇ Download {_e(copy.name)}</a>')
    return (f'<div class="po-download">{where} · {size:,} bytes<br><span class="po-muted">After saving, its '
            f'SHA-256 must read <code>{_e(sha256)}</code>. Send the archive (e-mail, upload) and the password '
            f'through different channels.</span></div>')


class DownloadLink:
    """The panel's download line: an Output widget (the notebook's renderer resolves its link against the
    notebook, JupyterLab's `files/`), empty until an archive is offered. `folder` None: no copy, no link."""

    def __init__(self, folder: str | Path | None = DOWNLOADS):
        self.folder = folder
        self.copy: Path | None = None  # the copy the link serves
        self.widget = widgets.Output()
        if folder is not None and Path(folder).is_dir():  # opening the panel clears yesterday's copies too
            prune_downloads(Path(folder))

    def offer(self, archive: Path, sha256: str, size: int) -> str | None:
        """Copy the archive beside the notebook and show the link; what went wrong when it cannot (the archive
        itself is made and registered: the panel says so and keeps the rest)."""
        self.clear()
        if self.folder is None:
            return None
        try:
            self.copy, href = offer_download(archive, self.folder)
        except OSError as exc:
            return (f"no download link: cannot copy the archive into {self.folder} ({exc.__class__.__name__}); "
                    f"it is at {archive}")
        self.widget.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"text/html": download_html(self.copy, href, sha256, size),
                                         "text/plain": str(self.copy)}},)
        return None

    def clear(self) -> None:
        """No link shown (the copy stays until it is a day old)."""
        self.copy, self.widget.outputs = None, ()
