"""The report writers: the run summary and the benchmark chart.

The Chrome traces are :meth:`BenchmarkResult.trace_events` and
:meth:`Executor.trace_events`, written by :func:`~imagestag_plugins.app.output.write_json`.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from .output import CLIError, err

__all__ = ["counted", "plot_benchmark", "print_run_summary", "require_matplotlib"]


def require_matplotlib() -> None:
    """Fail with one line saying what to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError("--plot needs matplotlib: pip install 'imagestag[plot]'") from None


def plot_benchmark(result: Any, path: Path) -> None:
    """A PNG with fps per executor against the ideal, and each executor's stage times."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in result.runs if not r.error]
    labels = [r.label for r in runs]
    fig, (ax_fps, ax_stage) = plt.subplots(1, 2, figsize=(13, 5.8))
    bars = ax_fps.barh(labels, [r.fps for r in runs], color="#3b7dd8")
    for bar, r in zip(bars, runs):
        frac = f" ({r.fraction_of_ideal:.0%} of ideal)" if r.fraction_of_ideal else ""
        ax_fps.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f" {r.fps:.1f}{frac}", va="center", fontsize=9)
    if result.ideal_fps:
        ax_fps.axvline(result.ideal_fps, color="#2a9d3f", linestyle="--",
                       label=f"ideal: {result.cpus} CPUs x sequential = "
                             f"{result.ideal_fps:.1f} fps")
    if result.target_fps:
        ax_fps.axvline(result.target_fps, color="#d62828", linestyle=":",
                       label=f"target {result.target_fps:g} fps")
    top = max([result.ideal_fps or 0, result.target_fps or 0, *(r.fps for r in runs), 1.0])
    ax_fps.set_xlim(0, top * 1.35)
    ax_fps.invert_yaxis()
    ax_fps.set_xlabel("frames per second (higher is better)")
    ax_fps.set_title("Throughput per executor")
    ax_fps.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8)

    stage_names = [s.stage_name for s in runs[0].stages] if runs else []
    colours = plt.get_cmap("tab10")
    left = [0.0] * len(runs)
    for k, name in enumerate(stage_names):
        widths = [r.stages[k].avg_time_ms if k < len(r.stages) else 0.0 for r in runs]
        ax_stage.barh(labels, widths, left=left, color=colours(k % 10), label=name)
        left = [a + b for a, b in zip(left, widths)]
    for i, r in enumerate(runs):
        ax_stage.text(left[i], i, f" {left[i]:.1f} ms (wall {r.per_frame_ms:.1f} ms/frame)",
                      va="center", fontsize=9)
    ax_stage.set_xlim(0, max([*left, 1.0]) * 1.6)
    ax_stage.invert_yaxis()
    ax_stage.set_xlabel("stage time per frame, ms (avg in a worker; lower is better)")
    ax_stage.set_title("Per-stage time breakdown")
    ax_stage.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4, fontsize=8)
    w, h = result.source_size
    fig.suptitle(f"{result.description}   source {w}x{h} ({w * h / 1e6:.2f} MP), "
                 f"{result.frames} frames, {result.cpus} CPUs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_run_summary(report: Any, video: bool) -> None:
    """The ``done: ...`` lines of ``imagestag run`` on stdout; on stderr one
    ``imagestag: error: <input>: <what failed>`` line per failed input."""
    head = f"{counted(report.frames_out, 'frame' if video else 'file')} written to {report.output}"
    if getattr(report, "renditions", None):  # a pipeline ending in tee: files per input
        head = f"{counted(report.frames_out, 'input')} rendered to {report.output}"
    if report.executor:
        head += (f" in {report.elapsed_s:.2f} s ({report.fps:.1f} fps, {report.executor} with "
                 f"{counted(report.workers, 'worker')})")
    else:  # nothing was left to run (every input skipped): no executor, no rate
        head += ": nothing to run"
    parts = [head]
    if video:
        parts.append(f"frames in {report.frames_in}, out {report.frames_out}, "
                     f"dropped {report.dropped}; latency p50 {report.latency_p50_ms:.1f} ms, "
                     f"p95 {report.latency_p95_ms:.1f} ms (submit -> result)")
    if getattr(report, "renditions", None):
        parts.append(f"{counted(report.written, 'file')}: " + ", ".join(
            f"{name} {n}" for name, n in report.renditions.items()))
    shrink = shrink_on_load_line(report.decodes)
    if shrink:
        parts.append(shrink)
    if report.skipped_existing:
        parts.append(f"{report.skipped_existing} skipped: output exists (--overwrite replaces)")
    if report.ignored:
        parts.append(f"{counted(report.ignored, 'file')} ignored: not an image format")
    if report.hidden:
        parts.append(f"{counted(report.hidden, 'hidden entry', 'hidden entries')} ignored "
                     f"(names starting with '.')")
    for where, reason in report.skipped:
        parts.append(f"skipped {where}: {reason}")
    if report.failures:
        parts.append(f"{len(report.failures)} failed (listed on stderr)")
    if getattr(report, "not_run", 0):
        parts.append(f"stopped at the first failure (--on-error raise): "
                     f"{counted(report.not_run, 'input')} not run (--on-error skip goes on)")
    if report.interrupted:
        parts.append("interrupted: finished outputs kept, nothing half-written")
    print("done: " + "\n  ".join(parts))
    sys.stdout.flush()  # the summary before the errors when both go to one terminal
    for where, message in report.failures:
        err(f"error: {where}: {' '.join(message.split())}")


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``"1 file"``, ``"3 files"`` (``plural`` where adding an s is wrong)."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def shrink_on_load_line(decodes: Counter[tuple[str, int]]) -> str:
    """``"JPEGs decoded at 1/4 size (shrink-on-load)"`` when every input was,
    else how many were reduced and by what; "" when none was."""
    reduced = {key: n for key, n in decodes.items() if key[1] > 1}
    if not reduced:
        return ""
    if len(reduced) == 1 and sum(reduced.values()) == sum(decodes.values()):
        (codec, factor), = reduced
        what = f"{codec.upper()}s" if codec else "inputs"
        return f"{what} decoded at 1/{factor} size (shrink-on-load)"
    ways = ", ".join(f"{n} {codec.upper() or 'input'}{'s' if n > 1 else ''} at 1/{factor}"
                     for (codec, factor), n in sorted(reduced.items()))
    return (f"{sum(reduced.values())} of {sum(decodes.values())} inputs decoded at reduced "
            f"size (shrink-on-load: {ways}); the others at full size")

