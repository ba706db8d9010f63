"""The guide pages that need axon-model's onnx extra run here (``<!-- runs in: nox -s onnx -->``),
with the same runner as the other guides (tests/integration/test_guides.py), in a temporary
directory holding a copy of the committed fixtures (``bert.onnx``, ``torch_bert/``, ...),
which the pages read as a reader reads their own files."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_RUNNER = HERE.parent / "integration" / "test_guides.py"
_spec = importlib.util.spec_from_file_location("guide_runner", _RUNNER)
guides = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = guides  # its dataclasses look their module up
_spec.loader.exec_module(guides)

PAGES = guides.pages_for("onnx")


def test_the_onnx_guide_is_here():
    assert PAGES, "no guide page says <!-- runs in: nox -s onnx -->"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_guide_runs(page, tmp_path):
    shutil.copytree(HERE / "fixtures", tmp_path, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))  # fmt: skip
    guides.run_guide(page, tmp_path)
