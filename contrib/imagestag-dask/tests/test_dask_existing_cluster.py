"""``imagestag run --executor dask`` on a cluster that is already up.

A real ``dask scheduler`` and two ``dask worker`` processes on loopback,
started with the ``dask`` command of this environment; the CLI reaches them
through ``DASK_SCHEDULER_ADDRESS`` (Dask's own configuration) or
``--executor-option address=...`` and starts no cluster of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from imagestag_core import FilterPipeline, Image

SPEC = "resize 0.5 | falsecolor hot | encode png"
START_TIMEOUT_S = 90


def _command(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"the {name} command is not installed in this environment")
    return found


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout: float) -> dict:
    """The scheduler's address file once it is written (the scheduler must stay alive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {process.returncode}")
        if path.exists():
            try:
                return json.loads(path.read_text())
            except ValueError:  # being written
                pass
        time.sleep(0.05)
    raise TimeoutError(f"dask scheduler wrote no {path} within {timeout}s")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """(scheduler address, a client of it) for a scheduler and two worker processes."""
    from distributed import Client

    dask = _command("dask")
    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    logs = [open(folder / f"{name}.log", "wb") for name in ("scheduler", "w1", "w2")]  # noqa: SIM115
    processes: list[subprocess.Popen[bytes]] = []
    client = None
    try:
        processes.append(subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)],
            stdout=logs[0], stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL))
        address = _wait_for_file(scheduler_file, processes[0], START_TIMEOUT_S)["address"]
        for name, log in (("w1", logs[1]), ("w2", logs[2])):
            processes.append(subprocess.Popen(
                [dask, "worker", address, "--name", name, "--nthreads", "1", "--nworkers", "1",
                 "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "60"],
                stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL))
        client = Client(address, set_as_default=False, timeout=START_TIMEOUT_S)
        client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        yield address, client
    finally:
        if client is not None:
            client.close()
        _stop(processes)
        for log in logs:
            log.close()


def _executed(client: Any) -> dict[str, int]:
    """Tasks each worker of the cluster has executed so far, by worker name."""
    counts = client.run(lambda dask_worker: (dask_worker.name, dask_worker.state.executed_count))
    return dict(counts.values())


def _folder(tmp_path: Path, n: int) -> Path:
    source = tmp_path / "in"
    source.mkdir()
    for i in range(n):
        rng = np.random.default_rng(i)
        Image(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(source / f"f{i}.png")
    return source


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_command("imagestag"), "-v", "run", *args], capture_output=True,
                          text=True, timeout=150, env=env, stdin=subprocess.DEVNULL)


def _check_outputs(source: Path, out: Path, n: int) -> None:
    assert sorted(p.name for p in out.iterdir()) == [f"f{i}.png" for i in range(n)]
    expected = FilterPipeline.parse(SPEC).apply(Image(source / "f1.png")).get_pixels()
    assert np.array_equal(Image(out / "f1.png").get_pixels(), expected)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}


@pytest.mark.timeout(300)
def test_dask_scheduler_address_runs_a_folder_on_the_existing_cluster(
        cluster: tuple[str, Any], tmp_path: Path) -> None:
    address, client = cluster
    source = _folder(tmp_path, 6)
    before = _executed(client)
    done = _run_cli([SPEC, str(source), "-o", str(tmp_path / "out"), "--executor", "dask"],
                    env={**_clean_env(), "DASK_SCHEDULER_ADDRESS": address})
    assert done.returncode == 0, done.stderr
    _check_outputs(source, tmp_path / "out", 6)
    after = _executed(client)
    assert set(after) == {"w1", "w2"}
    # every frame was one task on our two workers (nothing ran anywhere else)
    assert sum(after.values()) - sum(before.values()) == 6
    assert f"connecting to the Dask scheduler at {address} (from Dask's scheduler-address " \
           f"setting (DASK_SCHEDULER_ADDRESS))" in done.stderr
    assert "starting a local Dask cluster" not in done.stderr
    assert "6 files written" in done.stdout and "dask with 2 workers" in done.stdout
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2


@pytest.mark.timeout(300)
def test_executor_option_address_runs_a_folder_on_the_existing_cluster(
        cluster: tuple[str, Any], tmp_path: Path) -> None:
    address, client = cluster
    source = _folder(tmp_path, 4)
    before = _executed(client)
    done = _run_cli([SPEC, str(source), "-o", str(tmp_path / "out"), "--executor", "dask",
                     "--executor-option", f"address={address}", "-j", "3"], env=_clean_env())
    assert done.returncode == 0, done.stderr
    _check_outputs(source, tmp_path / "out", 4)
    assert sum(_executed(client).values()) - sum(before.values()) == 4
    assert f"connecting to the Dask scheduler at {address} (from the address option)" \
        in done.stderr
    assert "starting a local Dask cluster" not in done.stderr
    # -j sizes a local cluster only; an existing one keeps its workers, and says so
    assert f"imagestag: warning: num_workers=3 is ignored: the cluster at {address} has its " \
           f"own workers" in done.stderr
    assert "dask with 2 workers" in done.stdout


@pytest.mark.timeout(120)
def test_an_unreachable_address_is_one_error_line(tmp_path: Path) -> None:
    source = _folder(tmp_path, 1)
    done = _run_cli([SPEC, str(source), "-o", str(tmp_path / "out"), "--executor", "dask",
                     "--executor-option", "address=tcp://127.0.0.1:9",
                     "--executor-option", "connect_timeout=2"], env=_clean_env())
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("imagestag: error:")]
    assert len(errors) >= 1 and "Traceback" not in done.stderr, done.stderr
