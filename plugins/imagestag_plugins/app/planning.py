"""Which files ``imagestag run`` reads and where each result goes.

* Inputs are files, folders (walked recursively; hidden entries and files no
  codec knows are skipped and counted) or glob patterns.  Output paths mirror the input
  tree below the inputs' common folder, so ``a/x.jpg`` and ``b/x.jpg`` become
  ``OUT/a/x.jpg`` and ``OUT/b/x.jpg``.  The extension is the last stage's
  encoding (``encode png`` -> ``.png``), else the input's (``.png`` for a
  format imagestag only reads, such as GIF); an input whose
  extension no codec knows (``scan``) keeps its name and gets the preferred
  extension of the format its bytes show (``scan.png``).
* Symbolic links are followed, to files and folders, inside or outside the
  input folder, and the output is placed by the link's own path.  Broken
  links, link loops and special files are skipped, each with its reason.  A
  file reached by two names (a link beside its target) is processed once,
  under its real name when that is an input.
* An input is never overwritten; an existing output is skipped unless
  ``overwrite`` is set.
* Renditions: when the last stage offers ``rendition_branches()`` (``tee``),
  each input becomes one file per rendition, named by a template (default
  :data:`RENDITION_NAME`, ``photo-small.webp``) in the input's mirrored folder;
  ``{ext}`` is the branch's last encoding, else the input's own.  Renditions
  that exist are left out (``overwrite`` replaces them), and an input whose
  renditions all exist is not read at all.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from imagestag_core.errors import CodecError, ImagestagError, UnknownNameError
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.plugins import codec_for_data, codec_for_path, get_codec

__all__ = ["RENDITION_NAME", "FileJob", "Plan", "check_output_dir", "output_extension",
           "plan_jobs", "rendition_branches"]

#: the default ``--name`` of a rendition: ``photo-small.webp``
RENDITION_NAME = "{stem}-{branch}.{ext}"
_FIELDS = {"stem", "branch", "ext"}


@dataclass(frozen=True)
class FileJob:
    """One input file and the output it becomes; for a pipeline that ends in a
    ``tee``, ``renditions`` pairs each rendition still to write with its file
    (``dst`` is then the first of them)."""

    src: Path
    dst: Path
    renditions: tuple[tuple[str, Path], ...] = ()


class Plan(NamedTuple):
    """What :func:`plan_jobs` decided."""

    jobs: list[FileJob]
    #: outputs that exist already (left alone without ``overwrite``)
    skipped_existing: int
    #: files in the input folders no codec knows
    ignored: int
    #: (path, reason) of entries that cannot be read: broken links, loops, special files
    skipped: list[tuple[str, str]]
    #: hidden entries (names starting with ".") in the input folders, a folder counted once
    hidden: int = 0


def check_output_dir(out: Path) -> None:
    """Create ``out`` and prove it is writable, with one clear error if not."""
    if out.exists() and not out.is_dir():
        raise ImagestagError(f"output {str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".imagestag-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise ImagestagError(f"cannot write to the output folder {str(out)!r}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None


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


def rendition_branches(pipeline: FilterPipeline) -> dict[str, FilterPipeline] | None:
    """Rendition name -> branch when the last stage makes renditions (``tee``), else None."""
    last = pipeline.filters[-1] if pipeline.filters else None
    branches = getattr(last, "rendition_branches", None)
    found = branches() if callable(branches) else None
    return found or None


def _check_template(template: str) -> None:
    """Refuse a ``--name`` with unknown fields, no ``{branch}``, or a path out of its folder."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ImagestagError(f"--name {template!r}: {exc}") from None
    if fields - _FIELDS:
        raise ImagestagError(f"--name {template!r}: unknown field(s) "
                             f"{', '.join(sorted(fields - _FIELDS))}; use {{stem}}, "
                             f"{{branch}} and {{ext}}")
    if "branch" not in fields:
        raise ImagestagError(f"--name {template!r} needs {{branch}}, or every rendition of "
                             f"an input would get the same name")
    if Path(template).is_absolute() or ".." in Path(template).parts:
        raise ImagestagError(f"--name {template!r} must stay inside the output folder")


def _rendition_jobs(sources: list[tuple[Path, Path, Path]], common: Path, out_abs: Path,
                    branches: dict[str, FilterPipeline], template: str) -> list[FileJob]:
    """One job per input, with one file per rendition (see the module docs)."""
    exts = {name: output_extension(branch) for name, branch in branches.items()}
    bases: dict[Path, list[tuple[Path, Path]]] = {}
    for src, logical, _ in sources:
        rel = logical.relative_to(common)
        bases.setdefault(out_abs / rel.with_suffix(""), []).append((src, logical))
    jobs: list[FileJob] = []
    for base, srcs in bases.items():
        for src, logical in srcs:
            # x.png and x.jpg both giving x-small.webp: keep the input suffix in the stem
            stem = base.name if len(srcs) == 1 else logical.name
            own = _own_format(logical).suffix if _is_image_file(logical) else (
                _sniffed_extension(src) or "")
            files = tuple((name, base.parent / template.format(
                stem=stem, branch=name, ext=(exts[name] or own).lstrip(".")))
                for name in branches)
            if len({path for _, path in files}) < len(files):
                raise ImagestagError(f"--name {template!r} gives two renditions of "
                                     f"{str(src)!r} the same file name")
            jobs.append(FileJob(src, files[0][1], files))
    return jobs


def _is_image_file(path: Path) -> bool:
    try:
        codec_for_path(path)
    except CodecError:
        return False
    return True


#: where the input's own format cannot be written (a codec with ``can_write = False``,
#: e.g. GIF): lossless PNG
READ_ONLY_FALLBACK = ".png"


def _own_format(rel: Path) -> Path:
    """``rel`` itself, or with the fallback extension when its codec only reads."""
    writable = getattr(codec_for_path(rel), "can_write", True)
    return rel if writable else rel.with_suffix(READ_ONLY_FALLBACK)


def _unreadable(path: Path) -> str | None:
    """Why ``path`` (a folder entry or a glob match) is skipped, or None if it can be read."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if path.is_symlink():
            if exc.errno == errno.ELOOP:
                return "symbolic link loop"
            return "broken symbolic link"
        return exc.strerror or str(exc)
    if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        return None
    return "not a regular file"


@dataclass
class _Found:
    """What one input argument expands to."""

    files: list[Path]
    root: Path
    ignored: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    hidden: int = 0


def _walk(root: Path) -> _Found:
    """The files below ``root``, following symbolic links (to files and folders, also
    outside ``root``) under the link's own path; hidden entries are left out.

    Broken links, link loops and special files are skipped with the reason; a
    link to a folder that encloses it would repeat the tree forever and counts as
    a loop.  Iterative, so a deep tree does not recurse.
    """
    found = _Found([], root)
    real_root = os.stat(root)
    stack: list[tuple[Path, frozenset[tuple[int, int]]]] = [
        (root, frozenset({(real_root.st_dev, real_root.st_ino)}))]
    while stack:
        folder, enclosing = stack.pop()
        try:
            with os.scandir(folder) as it:
                names = sorted(entry.name for entry in it)
        except OSError as exc:
            found.skipped.append((str(folder), f"cannot read the folder: "
                                               f"{exc.strerror or exc}"))
            continue
        for name in names:
            if name.startswith("."):
                found.hidden += 1
                continue
            path = folder / name
            reason = _unreadable(path)
            if reason is not None:
                found.skipped.append((str(path), reason))
                continue
            info = os.stat(path)
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in enclosing:
                    found.skipped.append((str(path), "symbolic link loop (it points to a "
                                                     "folder that contains it)"))
                else:
                    stack.append((path, enclosing | {key}))
            elif _is_image_file(path):
                found.files.append(path)
            else:
                found.ignored += 1
    found.files.sort()
    return found


def _expand(arg: str) -> _Found:
    """Files of one input argument, the folder they are relative to, how many files
    were ignored (no codec for them), and the entries skipped with a reason."""
    path = Path(arg)
    if path.is_dir():
        return _walk(path)
    if path.is_file():
        return _Found([path], path.parent)
    if glob.has_magic(arg):
        # "**" follows a folder link that loops until the system's link limit: keep each
        # real entry once (the shortest name sorts first), not once per trip around the loop
        matches: list[Path] = []
        seen: set[tuple[str, str]] = set()
        for m in sorted(map(Path, glob.glob(arg, recursive=True)),
                        key=lambda m: (len(m.parts), str(m))):
            key = (os.path.realpath(m.parent), m.name)
            if key not in seen:
                seen.add(key)
                matches.append(m)
        matches.sort()
        skipped = [(str(m), r) for m in matches if (r := _unreadable(m)) is not None]
        files = [m for m in matches if m.is_file() and _is_image_file(m)]
        if not files:
            raise ImagestagError(f"no image files match {arg!r}")
        # the folder part before the first wildcard is what the outputs mirror
        parts = Path(arg).parts
        base = next(i for i, p in enumerate(parts) if glob.has_magic(p))
        return _Found(files, Path(*parts[:base]) if base else Path("."), skipped=skipped)
    if path.is_symlink():
        reason = _unreadable(path) or "not a file or folder"
        raise ImagestagError(f"input {arg!r} is a {reason}")
    if path.exists():
        raise ImagestagError(f"input {arg!r} is not a regular file or a folder")
    raise ImagestagError(f"input {arg!r} does not exist (expected a file, a folder or a glob)")


def _sniffed_extension(src: Path) -> str | None:
    """The preferred extension of the format ``src``'s first bytes show, None if unknown."""
    try:
        with open(src, "rb") as fh:
            head = fh.read(64)
        return codec_for_data(head).extensions[0]
    except (OSError, ImagestagError, IndexError):
        return None


def plan_jobs(inputs: Sequence[str], out: Path, pipeline: FilterPipeline, *,
              overwrite: bool = False, name: str | None = None) -> Plan:
    """The jobs for ``inputs`` and what was left out (see :class:`Plan`); ``name``
    is the rendition file name template (default :data:`RENDITION_NAME`).

    Raises :class:`ImagestagError` for a missing input, no image files at all,
    an output that would replace an input, or a bad ``name``.
    """
    branches = rendition_branches(pipeline)
    if name is not None and branches is None:
        raise ImagestagError("--name names renditions: the pipeline must end in a tee, "
                             "as in 'decode | tee small=(resize 320x) large=(resize 1920x)'")
    template = RENDITION_NAME if name is None else name
    if branches is not None:
        _check_template(template)
    out_abs = out.resolve()
    ext = output_extension(pipeline)
    # (the file itself, where it is as the user named it, the folder it is relative to)
    candidates: list[tuple[Path, Path, Path]] = []
    ignored = hidden = 0
    skipped: list[tuple[str, str]] = []
    for arg in inputs:
        found = _expand(arg)
        ignored, hidden = ignored + found.ignored, hidden + found.hidden
        skipped += found.skipped
        root_abs = found.root.resolve()
        for f in found.files:
            # the link's path, not its target's: a link to a file outside the folder
            # is placed where the link is
            candidates.append((f.resolve(), root_abs / f.relative_to(found.root), root_abs))
    chosen: dict[Path, tuple[Path, Path]] = {}
    # one file reached by several names is read once: under its real name if that is one
    # of them, else under the shortest (a loop walked by "**" repeats a name deeper)
    candidates.sort(key=lambda c: (c[1] != c[0], len(c[1].parts), str(c[1])))
    for resolved, logical, root_abs in candidates:
        # outputs of an earlier run in a folder inside an input folder are not inputs
        if root_abs in out_abs.parents and (out_abs in logical.parents
                                            or out_abs in resolved.parents):
            continue
        chosen.setdefault(resolved, (logical, root_abs))
    sources = [(resolved, logical, root) for resolved, (logical, root) in chosen.items()]
    if not sources:
        raise ImagestagError(f"no image files found in {', '.join(map(repr, inputs))}")
    common = Path(os.path.commonpath([str(root) for _, _, root in sources]))
    if branches is not None:
        return _rendition_plan(sources, _rendition_jobs(sources, common, out_abs, branches,
                                                        template), overwrite, ignored, skipped,
                               hidden)
    targets: dict[Path, list[tuple[Path, Path]]] = {}
    for src, logical, _ in sources:
        rel = logical.relative_to(common)
        if ext is not None:
            dst = out_abs / rel.with_suffix(ext)
        elif _is_image_file(rel):
            dst = out_abs / _own_format(rel)
        else:
            # no codec knows the name (``scan``): the input's own format, sniffed
            sniffed = _sniffed_extension(src)
            dst = out_abs / (rel.with_name(rel.name + sniffed) if sniffed else rel)
        targets.setdefault(dst, []).append((src, logical))
    jobs: list[FileJob] = []
    for dst, srcs in targets.items():
        for src, logical in srcs:
            # x.png and x.jpg both becoming x.jpg: keep the input suffix in the name
            target = dst if len(srcs) == 1 else dst.with_name(f"{logical.name}{dst.suffix}")
            jobs.append(FileJob(src, target))
    inputs_set = {src for src, _, _ in sources} | {logical for _, logical, _ in sources}
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
    return Plan(jobs, skipped_existing, ignored, skipped, hidden)


def _rendition_plan(sources: list[tuple[Path, Path, Path]], jobs: list[FileJob],
                    overwrite: bool, ignored: int, skipped: list[tuple[str, str]],
                    hidden: int) -> Plan:
    """``jobs`` less the renditions that exist (unless ``overwrite``), never an input."""
    inputs_set = {src for src, _, _ in sources} | {logical for _, logical, _ in sources}
    kept: list[FileJob] = []
    existing = 0
    for job in jobs:
        if any(path in inputs_set for _, path in job.renditions):
            raise ImagestagError(f"refusing to overwrite the input {str(job.src)!r}; "
                                 f"choose another output folder")
        missing = job.renditions if overwrite else tuple(
            (n, path) for n, path in job.renditions if not path.exists())
        existing += len(job.renditions) - len(missing)
        if missing:
            kept.append(FileJob(job.src, missing[0][1], missing))
    kept.sort(key=lambda j: str(j.src))
    return Plan(kept, existing, ignored, skipped, hidden)
