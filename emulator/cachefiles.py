"""Files derived once and kept between runs (rank tables, word lists): where they live, and
writing them whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def directory() -> Path:
    """$XDG_CACHE_HOME/chat-emulator, else ~/.cache/chat-emulator."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "chat-emulator"


def write(name: str, data: bytes) -> bool:
    """Keep `data` as the file `name`; False when the directory cannot be written (then nothing is kept).

    Written aside and renamed, so a reader sees the whole file or none (several servers may race).
    """
    path = directory() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, delete=False) as out:
            try:
                out.write(data)
            except OSError:
                os.unlink(out.name)
                raise
        os.replace(out.name, path)
    except OSError:
        return False
    return True
