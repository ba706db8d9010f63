"""The README's Python snippet runs as shown, and again (a second run continues, not refused)."""

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def readme_snippet() -> str:
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1]
    return re.findall(r"```python\n(.*?)```", quick_start, re.S)[0]


def test_the_readme_snippet_runs_as_shown_twice(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # its logs and checkpoints land here
    for attempt in range(2):
        scope: dict = {}
        exec(compile(readme_snippet(), "README.md", "exec"), scope)
        predicted = np.argmax(scope["predictions"], -1)
        assert np.mean(predicted == np.argmax(scope["y_test"], -1)) > 0.85, attempt
    assert [p.name for p in (tmp_path / "runs" / "quickstart").iterdir()] == ["version_0"]
    assert "Total parameters" in capsys.readouterr().out
