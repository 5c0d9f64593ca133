"""The kit's pytest plugin marks contract tests itself: ``-m imagestag_contract`` selects them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SUITE = '''
import pytest
from imagestag_core import testing
from imagestag_core.testing import check_executor, check_filter


def test_calls_check_filter():
    check_filter


def test_calls_the_kit_through_the_module():
    testing.check_executor


def test_requests_the_fixture(imagestag_kit):
    pass


@pytest.mark.imagestag_contract
def test_marked_by_hand():
    pass


class TestGroup:
    def test_method_calls_check_executor(self):
        check_executor


@pytest.mark.parametrize("n", [1, 2])
def test_parametrized_calls_check_filter(n):
    check_filter


def test_names_check_filter_without_calling_it():
    assert callable(check_filter)


def test_unrelated():
    assert 1 + 1 == 2
'''


def _collected(tmp_path: Path, *args: str) -> list[str]:
    (tmp_path / "test_pack_contract.py").write_text(SUITE)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sorted(line.split("::", 1)[1] for line in proc.stdout.splitlines() if "::" in line)


def test_the_marker_selects_tests_that_call_the_kit_or_request_its_fixture(tmp_path: Path) -> None:
    assert _collected(tmp_path, "-m", "imagestag_contract") == [
        "TestGroup::test_method_calls_check_executor",
        "test_calls_check_filter",
        "test_calls_the_kit_through_the_module",
        "test_marked_by_hand",
        "test_names_check_filter_without_calling_it",  # the body is read, not run
        "test_parametrized_calls_check_filter[1]",
        "test_parametrized_calls_check_filter[2]",
        "test_requests_the_fixture",
    ]


def test_not_the_marker_keeps_only_the_other_tests(tmp_path: Path) -> None:
    assert _collected(tmp_path, "-m", "not imagestag_contract") == ["test_unrelated"]
