"""The static HTML registry report (`git mv-promote report --html DIR`).

`collect.collect` reads the registry once, through one context; `html.render` lays the charts out
and renders one self-contained page; `build` writes it atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gitmv.ops.report import collect, html


def build(out_dir: str, path: str | os.PathLike = ".") -> dict:
    """Render the registry of the repository at `path` into `out_dir/index.html`."""
    data = collect.collect(path)
    page = html.render(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "index.html"
    fd, tmp = tempfile.mkstemp(prefix=".index.", suffix=".html", dir=out)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        # mkstemp makes the file private (0600); a report is for reading: the mode a plain write
        # would give, i.e. 0666 less the umask
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"path": str(target.resolve()), "models": len(data.models),
            "versions": sum(len(m.versions) for m in data.models)}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
