"""The fault matrix: every executor x failing stage x error policy x exception kind.

Whatever a filter raises - an ``Exception``, an :class:`ImagestagError` or a
``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``,
``SystemExit``, ``GeneratorExit``, one of the test's own) - the frame is
settled as a failure of the stage that raised it, under the error policy, and
every frame is accounted for.  Only ``sequential``, whose frames run in the
caller's thread, lets ``KeyboardInterrupt``/``SystemExit`` reach the caller;
the frame is still counted as failed.  Parametrized over ``list_executors()``
like the contract suite, so process pools and clusters get the same cases.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from imagestag_core import (
    Executor,
    FrameError,
    Image,
    ImagestagError,
    PipelineError,
    get_executor,
    list_executors,
)
from imagestag_core.executor import StageFailed, apply_stage
from imagestag_core.filter import Filter
from imagestag_core.plugins import get_executor_class

EXECUTORS = [entry.name for entry in list_executors()]
STAGES = [0, 1, 2]
POLICIES = ["raise", "skip", "collect"]
FRAMES = 6
FAILING = 2


class MatrixBaseException(BaseException):
    """A ``BaseException`` of our own: neither an ``Exception`` nor an interrupt."""


KINDS: dict[str, type[BaseException]] = {
    "ValueError": ValueError,
    "ImagestagError": ImagestagError,
    "KeyboardInterrupt": KeyboardInterrupt,
    "SystemExit": SystemExit,
    "GeneratorExit": GeneratorExit,
    "custom": MatrixBaseException,
}
#: what may reach the caller of an executor whose frames run in the caller's thread
INTERRUPTS = (KeyboardInterrupt, SystemExit)


# -- module-level filters: picklable by reference for process pools and clusters --------------


class Invert(Filter):
    """255 - pixels."""

    name = "fault_matrix_invert"

    def apply(self, image: Image) -> Image:
        return image.derive(255 - image.get_pixels())


class RaiseOn(Filter):
    """Raise ``KINDS[kind]`` on the frame whose ``metadata["frame"]`` is ``frame``."""

    name = "fault_matrix_raise"
    kind: str = "ValueError"
    frame: int = FAILING

    def apply(self, image: Image) -> Image:
        if image.metadata.get("frame") == self.frame:
            raise KINDS[self.kind](f"injected {self.kind} on frame {self.frame}")
        return image


# -- helpers ------------------------------------------------------------------------------


def tiny_frames(first: int, count: int) -> list[Image]:
    return [Image(np.full((6, 8, 3), i % 256, np.uint8), metadata={"frame": i})
            for i in range(first, first + count)]


def make(name: str, pipeline: list[Filter], **options: Any) -> Executor:
    """The executor ``name`` with one worker where it takes a count, so a worker that
    died with the failing frame would leave nothing to process the next ones."""
    cls = get_executor_class(name)
    if "num_workers" in cls.extra_options and name not in ("streaming", "stage_parallel", "dask"):
        options["num_workers"] = 1
    return get_executor(name, pipeline, **options)


def pipeline_failing_in(stage: int, kind: str) -> list[Filter]:
    stages: list[Filter] = [Invert(), Invert(), Invert()]
    stages[stage] = RaiseOn(kind=kind)
    return stages


def assert_every_frame_accounted_for(ex: Executor, *, failed: int = 1) -> None:
    m = ex.get_metrics()
    # a skipped frame is a failed one left out of the results: counted in both
    assert m.frames_submitted == (m.frames_completed + m.frames_failed + m.frames_cancelled
                                  + m.frames_dropped), m.summary()
    assert m.frames_failed == failed, m.summary()
    assert m.frames_skipped == (failed if ex.on_error == "skip" else 0), m.summary()


def propagates(ex: Executor, kind: str) -> bool:
    """True where the interrupt may reach the caller: frames run in its thread."""
    return ex.inline and issubclass(KINDS[kind], INTERRUPTS)


def worker_processes(ex: Executor) -> list[int] | None:
    """The ids of an executor's worker processes where it shows them (``process``)."""
    pids = getattr(ex, "worker_pids", None)
    return None if pids is None else sorted(pids)


def stage_notes(error: BaseException) -> str:
    return "\n".join(getattr(error, "__notes__", []))


@pytest.fixture(params=EXECUTORS, ids=EXECUTORS)
def executor_name(request: pytest.FixtureRequest) -> str:
    if request.param == "dask":
        request.getfixturevalue("shared_dask_cluster")
    return str(request.param)


@pytest.fixture(scope="module")
def shared_dask_cluster() -> None:
    # the first dask executor starts the process-wide local cluster: a fixture,
    # so that start is not part of any case's 10 s (timeouts are func_only)
    with make("dask", [Invert()]) as ex:
        ex.process_all(tiny_frames(0, 1))


# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.timeout(10, func_only=True)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("stage", STAGES)
def test_a_failing_stage_settles_its_frame_under_the_policy_and_workers_survive(
        executor_name: str, stage: int, policy: str, kind: str) -> None:
    error_type = KINDS[kind]
    with make(executor_name, pipeline_failing_in(stage, kind), on_error=policy) as ex:
        stage_name = ex.stage_names[stage]
        workers_before = worker_processes(ex.start())
        if propagates(ex, kind):
            with pytest.raises(error_type) as interrupted:
                ex.process_all(tiny_frames(0, FRAMES))
            assert stage_name in stage_notes(interrupted.value)
            if policy == "raise":
                with pytest.raises(PipelineError) as caught:
                    ex.get_result()
                assert (caught.value.seq, caught.value.stage) == (FAILING, stage_name)
                return_early = True
            else:
                # the caller may go on: the executor still works
                rest = ex.process_all(tiny_frames(FAILING + 1, FRAMES - FAILING - 1))
                assert [r.metadata["frame"] for r in rest] == list(range(FAILING + 1, FRAMES))
                return_early = False
        elif policy == "raise":
            with pytest.raises(PipelineError) as caught:
                ex.process_all(tiny_frames(0, FRAMES))
            error = caught.value
            assert (error.seq, error.stage, error.filter_name) == (FAILING, stage_name,
                                                                   RaiseOn.name)
            assert isinstance(error.error, error_type)
            assert error.__cause__ is error.error
            with pytest.raises(PipelineError):
                ex.submit(tiny_frames(10, 1)[0])
            return_early = True
        else:
            results = ex.process_all(tiny_frames(0, FRAMES))
            if policy == "skip":
                assert [r.metadata["frame"] for r in results] == \
                    [i for i in range(FRAMES) if i != FAILING]
            else:
                assert len(results) == FRAMES
                failed = results[FAILING]
                assert isinstance(failed, FrameError)
                assert (failed.seq, failed.stage, failed.filter_name) == (FAILING, stage_name,
                                                                          RaiseOn.name)
                assert isinstance(failed.error, error_type)
                assert all(isinstance(r, Image) for i, r in enumerate(results) if i != FAILING)
            return_early = False
        if not return_early:
            # the workers survived the failure: more frames still get through, and
            # where an executor shows its worker processes, none was replaced
            again = ex.process_all(tiny_frames(10, 3))
            assert [r.metadata["frame"] for r in again] == [10, 11, 12]
            assert worker_processes(ex) == workers_before
    assert_every_frame_accounted_for(ex)


# -- the caller's thread: what sequential lets through, and how it is counted ------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "SystemExit"])
@pytest.mark.parametrize("policy", POLICIES)
def test_sequential_submit_lets_an_interrupt_through_and_counts_the_frame_failed(
        policy: str, kind: str) -> None:
    with get_executor("sequential", pipeline_failing_in(1, kind), on_error=policy) as ex:
        assert ex.submit(tiny_frames(0, 1)[0]) == 0
        with pytest.raises(KINDS[kind]) as interrupted:
            ex.submit(tiny_frames(FAILING, 1)[0])
        assert ex.stage_names[1] in stage_notes(interrupted.value)
        metrics = ex.get_metrics()
        # the interrupted frame keeps its number: it was submitted, and it failed
        assert (metrics.frames_submitted, metrics.frames_completed, metrics.frames_failed) \
            == (2, 1, 1)
        if policy == "raise":
            with pytest.raises(PipelineError) as caught:
                ex.get_result()
            assert (caught.value.seq, caught.value.stage) == (1, ex.stage_names[1])
            return
        assert ex.submit(tiny_frames(FAILING + 1, 1)[0]) == 2
        got = list(ex.results(with_seq=True))
    expected_seqs = [0, 1, 2] if policy == "collect" else [0, 2]
    assert [seq for seq, _ in got] == expected_seqs
    if policy == "collect":
        assert isinstance(got[1][1], FrameError) and got[1][1].stage == ex.stage_names[1]
    assert_every_frame_accounted_for(ex)


# -- the core's stage runner, which remote workers call too -------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_apply_stage_turns_whatever_a_filter_raises_into_stage_failed_naming_the_stage(
        kind: str) -> None:
    with pytest.raises(StageFailed) as caught:
        apply_stage(1, RaiseOn(kind=kind), tiny_frames(FAILING, 1)[0])
    assert caught.value.stage == 1
    assert type(caught.value.error) is KINDS[kind]
    assert caught.value.__cause__ is caught.value.error


def test_apply_stage_rejects_a_result_that_is_not_an_image() -> None:
    class ReturnsArray(Filter):
        name = "fault_matrix_returns_array"

        def apply(self, image: Image) -> Any:
            return image.get_pixels()

    with pytest.raises(StageFailed) as caught:
        apply_stage(0, ReturnsArray(), tiny_frames(0, 1)[0])
    assert caught.value.stage == 0 and isinstance(caught.value.error, ImagestagError)
