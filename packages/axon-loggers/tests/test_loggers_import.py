"""``import axon.loggers`` stays light: the heavy libraries load with the first logger that
needs them (a fresh interpreter each, since this test process has imported them already)."""

import subprocess
import sys

import pytest

HEAVY = ("tensorboardX", "google.protobuf", "PIL", "torch", "matplotlib")


def modules_loaded_by(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(result.stdout.split())


def test_importing_axon_loggers_loads_none_of_them():
    assert modules_loaded_by("import axon.loggers") == set()


def test_the_first_tensorboard_logger_loads_tensorboardx(tmp_path):
    pytest.importorskip("tensorboardX")
    code = f"import axon.loggers\naxon.loggers.TensorBoardLogger({str(tmp_path)!r}).close()"
    assert {"tensorboardX", "google.protobuf"} <= modules_loaded_by(code)
