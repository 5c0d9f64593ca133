"""Frames as :class:`concurrent.futures.Future` objects, and the asyncio API on them.

:class:`FutureSide` is a base of :class:`~imagestag_core.executor.Executor`,
so every executor has ``submit_future``, ``aprocess`` and ``aimap`` without
code of its own: a future *claims* its frame in the result store
(:meth:`~.store.ResultStore.reserve`), which ends the frame in the future
instead of handing it to ``get_result``/``results``/``imap`` readers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from concurrent.futures import Future
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from ..errors import FrameError, PipelineError
from ..image import Image
from ..lazy_import import lazy_module
from .store import ErrorPolicy, ResultStore

if TYPE_CHECKING:
    import asyncio
else:  # on first use: a CLI start or a thread-pool user does not pay for asyncio
    asyncio = lazy_module("asyncio", globals())

__all__ = ["FutureSide"]

_END = object()


class FutureSide:
    """``submit_future``, ``aprocess`` and ``aimap`` of an :class:`Executor`."""

    on_error: ErrorPolicy
    _store: ResultStore

    if TYPE_CHECKING:  # provided by Executor
        @property
        def default_window(self) -> int: ...

        def _submit(self, image: Any, timeout: float | None, claim: Future[Any] | None,
                    ) -> int: ...

    def submit_future(self, image: Any, timeout: float | None = None) -> Future[Image]:
        """Queue one frame like :meth:`submit`; return a :class:`~concurrent.futures.Future`
        of its result, for ``concurrent.futures.wait``/``as_completed`` and
        ``asyncio.wrap_future``.

        The frame belongs to its future: ``get_result``/``results``/``imap``
        never return it and ``max_pending_results`` does not count it.  A
        failure sets :class:`PipelineError` (``seq``, ``stage``, ``filter_name``,
        the cause chained) as the future's exception and, whatever ``on_error``
        says, fails no other frame.  ``future.cancel()`` is ``stop(cancel=True)``
        for this frame alone, and succeeds until the frame ends: a frame not
        started yet is skipped, one running finishes and its result is
        discarded; either way it counts in ``frames_cancelled``, and
        ``wait``/``as_completed`` see it done when the frame ends.  Frames
        dropped by ``stop(cancel=True)`` or an overflow policy cancel their futures.
        """
        future: Future[Image] = Future()
        self._submit(image, timeout, future)
        return future

    async def aprocess(self, image: Any) -> Image:
        """The result of one frame, awaited without blocking the event loop.

        Cancelling the awaiting task cancels the frame.  A failure raises
        :class:`PipelineError`, as ``submit_future`` says.
        """
        future = await self._asubmit(image)
        return await future

    async def aimap(self, images: AsyncIterable[Any] | Iterable[Any], *,
                    window: int | None = None) -> AsyncIterator[Any]:
        """Yield results in input order while consuming ``images``, an async or sync
        iterable (read in a thread, so a blocking generator cannot stall the loop).

        At most ``window`` frames (default :attr:`default_window`) are in
        flight.  ``on_error`` applies as in :meth:`imap`: ``"raise"`` raises the
        :class:`PipelineError`, ``"skip"`` leaves the frame out, ``"collect"``
        yields a :class:`FrameError`.  Its frames still in flight are cancelled
        when the loop ends early, raises, or its task is cancelled (close an
        abandoned loop with ``contextlib.aclosing``).
        """
        loop = asyncio.get_running_loop()
        limit = window or self.default_window
        source = aiter(images) if isinstance(images, AsyncIterable) else iter(images)
        in_flight: deque[asyncio.Future[Image]] = deque()
        exhausted = False
        try:
            while in_flight or not exhausted:
                while not exhausted and len(in_flight) < limit:
                    item = await _next_item(source, loop)
                    exhausted = item is _END
                    if not exhausted:
                        in_flight.append(await self._asubmit(item))
                if not in_flight:
                    return
                try:
                    result: Any = await in_flight.popleft()
                except PipelineError as exc:
                    if self.on_error == "raise":
                        raise
                    if self.on_error == "skip":
                        continue
                    result = FrameError(exc.seq or 0, exc.stage, exc.error, exc.filter_name)
                yield result
        finally:
            for future in in_flight:
                future.cancel()

    async def _asubmit(self, image: Any) -> asyncio.Future[Image]:
        # submit may block (a full input queue, or an inline executor running the
        # frame), so it runs in the loop's default thread pool
        loop = asyncio.get_running_loop()
        submitting = loop.run_in_executor(None, self.submit_future, image)
        try:
            future = await asyncio.shield(submitting)
        except asyncio.CancelledError:
            # the frame may be queued already: the task ends once it is cancelled
            submitting.add_done_callback(_cancel_submitted)
            with suppress(Exception):
                await asyncio.shield(submitting)
            raise
        return asyncio.wrap_future(future, loop=loop)


def _cancel_submitted(submitting: asyncio.Future[Future[Image]]) -> None:
    # the task was cancelled while submit ran: the frame it queued is cancelled too
    if not submitting.cancelled() and submitting.exception() is None:
        submitting.result().cancel()


async def _next_item(source: AsyncIterator[Any] | Iterator[Any],
                     loop: asyncio.AbstractEventLoop) -> Any:
    if isinstance(source, AsyncIterator):
        return await anext(source, _END)
    return await loop.run_in_executor(None, next, source, _END)
