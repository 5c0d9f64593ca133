"""Progress reporting for ``imap``/``process_all``: a tqdm bar and/or a callback."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Progress", "ProgressCallback", "length_of"]

#: ``progress(done, total)``: called after each frame; ``total`` is None when unknown
ProgressCallback = Callable[[int, "int | None"], None]


class Progress:
    """Counts finished frames; draws a bar when ``show``, calls ``callback`` if given."""

    def __init__(self, show: bool, callback: ProgressCallback | None, total: int | None,
                 desc: str) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self.bar: Any = None
        if show:
            # imported only when asked for: tqdm is not needed to run a pipeline
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="frame", leave=False)

    def update(self) -> None:
        """One more frame is done."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        """Remove the bar (idempotent)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def length_of(items: Iterable[Any]) -> int | None:
    """``len(items)`` for sized iterables, None for generators and the like."""
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None
