"""The guide pages that need axon-model's onnx extra run here (``<!-- runs in: nox -s onnx -->``),
with the same runner as the other guides (tests/integration/test_guides.py)."""

import importlib.util
from pathlib import Path

import pytest

_RUNNER = Path(__file__).resolve().parents[1] / "integration" / "test_guides.py"
_spec = importlib.util.spec_from_file_location("guide_runner", _RUNNER)
guides = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(guides)

PAGES = guides.pages_for("onnx")


def test_the_onnx_guide_is_here():
    assert PAGES, "no guide page says <!-- runs in: nox -s onnx -->"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_guide_runs(page, tmp_path):
    guides.run_guide(page, tmp_path)
