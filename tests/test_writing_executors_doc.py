"""The complete executor in docs/writing-executors.md runs and keeps the contract."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from imagestag_core.executor import Executor
from imagestag_core.testing import check_executor

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing-executors.md"


def _example_module() -> types.ModuleType:
    text = DOC.read_text()
    match = re.search(r"```python\n(\"\"\"imagestag_simplepool.*?)```", text, re.S)
    assert match, f"{DOC} lost its complete executor example"
    module = types.ModuleType("imagestag_simplepool")
    # registered as a module so pickling and the kit's class identity checks work
    sys.modules[module.__name__] = module
    exec(compile(match.group(1), str(DOC), "exec"), module.__dict__)
    return module


def test_the_documented_executor_is_short() -> None:
    text = DOC.read_text()
    code = re.search(r"```python\n(\"\"\"imagestag_simplepool.*?)```", text, re.S)
    assert code is not None and len(code.group(1).splitlines()) < 100


@pytest.mark.timeout(300)
def test_the_documented_executor_passes_check_executor() -> None:
    module = _example_module()
    try:
        cls = module.SimplePoolExecutor
        assert issubclass(cls, Executor)
        check_executor(cls, options={"num_workers": 2})
    finally:
        sys.modules.pop(module.__name__, None)
