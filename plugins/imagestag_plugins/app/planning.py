"""Which files ``imagestag run`` reads and where each result goes.

* Inputs are files, folders (walked recursively; hidden files and files no
  codec knows are skipped) or glob patterns.  Output paths mirror the input
  tree below the inputs' common folder, so ``a/x.jpg`` and ``b/x.jpg`` become
  ``OUT/a/x.jpg`` and ``OUT/b/x.jpg``.  The extension is the last stage's
  encoding (``encode png`` -> ``.png``), else the input's.
* An input is never overwritten; an existing output is skipped unless
  ``overwrite`` is set.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imagestag_core.errors import CodecError, ImagestagError, UnknownNameError
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.plugins import codec_for_path, get_codec

__all__ = ["FileJob", "check_output_dir", "output_extension", "plan_jobs"]


@dataclass(frozen=True)
class FileJob:
    """One input file and the output it becomes."""

    src: Path
    dst: Path


def check_output_dir(out: Path) -> None:
    """Create ``out`` and prove it is writable, with one clear error if not."""
    if out.exists() and not out.is_dir():
        raise ImagestagError(f"output {str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".imagestag-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ImagestagError(f"cannot write to the output folder {str(out)!r}: "
                             f"{exc.strerror or exc}") from None


def output_extension(pipeline: FilterPipeline) -> str | None:
    """The extension of the last stage's encoding (``".jpg"``), None if it does not encode."""
    if not pipeline.filters:
        return None
    fmt = getattr(pipeline.filters[-1], "format", None)
    if not isinstance(fmt, str):
        return None
    try:
        return get_codec(fmt).extensions[0]
    except UnknownNameError:
        return None


def _is_image_file(path: Path) -> bool:
    try:
        codec_for_path(path)
    except CodecError:
        return False
    return True


def _expand(arg: str) -> tuple[list[Path], Path, int]:
    """Files of one input argument, the folder they are relative to, and how many
    files were ignored (no codec for them)."""
    path = Path(arg)
    if path.is_dir():
        found = [p for p in sorted(path.rglob("*"))
                 if p.is_file() and not any(part.startswith(".")
                                            for part in p.relative_to(path).parts)]
        files = [p for p in found if _is_image_file(p)]
        return files, path, len(found) - len(files)
    if path.is_file():
        return [path], path.parent, 0
    if glob.has_magic(arg):
        matches = [Path(m) for m in sorted(glob.glob(arg, recursive=True))]
        files = [m for m in matches if m.is_file() and _is_image_file(m)]
        if not files:
            raise ImagestagError(f"no image files match {arg!r}")
        # the folder part before the first wildcard is what the outputs mirror
        parts = Path(arg).parts
        base = next(i for i, p in enumerate(parts) if glob.has_magic(p))
        return files, Path(*parts[:base]) if base else Path("."), 0
    raise ImagestagError(f"input {arg!r} does not exist (expected a file, a folder or a glob)")


def plan_jobs(inputs: Sequence[str], out: Path, pipeline: FilterPipeline, *,
              overwrite: bool = False) -> tuple[list[FileJob], int, int]:
    """The jobs for ``inputs``: ``(jobs, skipped because the output exists, ignored files)``.

    Raises :class:`ImagestagError` for a missing input, no image files at all,
    or an output that would replace an input.
    """
    out_abs = out.resolve()
    ext = output_extension(pipeline)
    sources: list[tuple[Path, Path]] = []
    ignored = 0
    seen: set[Path] = set()
    for arg in inputs:
        files, root, skipped = _expand(arg)
        ignored += skipped
        root_abs = root.resolve()
        nested_out = root_abs in out_abs.parents
        for f in files:
            resolved = f.resolve()
            # outputs of an earlier run in a folder inside an input folder are not inputs
            if resolved in seen or (nested_out and out_abs in resolved.parents):
                continue
            seen.add(resolved)
            sources.append((resolved, root_abs))
    if not sources:
        raise ImagestagError(f"no image files found in {', '.join(map(repr, inputs))}")
    common = Path(os.path.commonpath([str(root) for _, root in sources]))
    targets: dict[Path, list[Path]] = {}
    for src, _ in sources:
        rel = src.relative_to(common)
        targets.setdefault(out_abs / rel.with_suffix(ext or rel.suffix), []).append(src)
    jobs: list[FileJob] = []
    for dst, srcs in targets.items():
        for src in srcs:
            # x.png and x.jpg both becoming x.jpg: keep the input suffix in the name
            target = dst if len(srcs) == 1 else dst.with_name(f"{src.name}{dst.suffix}")
            jobs.append(FileJob(src, target))
    inputs_set = {src for src, _ in sources}
    for job in jobs:
        if job.dst in inputs_set:
            raise ImagestagError(f"refusing to overwrite the input {str(job.src)!r}; "
                                 f"choose another output folder")
    skipped_existing = 0
    if not overwrite:
        kept = [j for j in jobs if not j.dst.exists()]
        skipped_existing = len(jobs) - len(kept)
        jobs = kept
    jobs.sort(key=lambda j: str(j.src))
    return jobs, skipped_existing, ignored
