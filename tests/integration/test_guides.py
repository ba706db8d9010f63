"""The guides in ``docs/guides`` and the example programs run, so they cannot rot.

Each guide page runs in its own Python process, in a fresh temporary working
directory: its ```` ```python ```` blocks are executed top to bottom in one
namespace, like a reader pasting them into one session. A block directly preceded
by the line ``<!-- skip -->`` is shown but not run (``docs/index.md`` documents
this). A failure reports the page and the line of the guide it happened on.

Every ``examples/*.py`` that has a ``--smoke`` option runs with it, in a
temporary working directory.

Run one page: ``nox -s integration -- -k your-first-model``. The runner also works
as a script: ``python tests/integration/test_guides.py docs/guides/<page>.md``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A page needing an optional extra says which nox session runs it instead, e.g. the ONNX
#: guide: ``<!-- runs in: nox -s onnx -->``; that session's tests call :func:`pages_for`.
SESSION_MARKER = re.compile(r"<!-- runs in: nox -s (\w+) -->")


def pages_for(session: str | None) -> list[Path]:
    """The guide pages the nox session ``session`` runs (``None``: this one, integration)."""
    pages = sorted((ROOT / "docs" / "guides").glob("*.md"))
    return [p for p in pages if _session_of(p) == session]


def _session_of(page: Path) -> str | None:
    found = SESSION_MARKER.search(page.read_text(encoding="utf-8"))
    return found[1] if found else None


GUIDES = pages_for(None)
EXAMPLES = sorted(
    p
    for p in (ROOT / "examples").glob("[!_]*.py")  # _cli.py is their shared helper
    if "--smoke" in p.read_text()
)

SKIP_MARKER = "<!-- skip -->"
RUNNABLE = {"python", "py"}
TIMEOUT_S = 900

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    language: str
    source: str
    line: int  # 1-based line of the block's first code line in the page
    skip: bool


def code_blocks(markdown: str) -> list[Block]:
    """Every fenced code block of ``markdown``, in order (indented fences included)."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        info = opening["info"].strip().lstrip("{").lstrip(".")
        language = re.split(r"[\s{}.]", info, maxsplit=1)[0].lower() if info else ""
        previous = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = lines[j].strip()
            if closing.startswith(fence[0] * len(fence)) and closing.strip(fence[0]) == "":
                break
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        blocks.append(Block(language, "\n".join(body) + "\n", i + 2, previous == SKIP_MARKER))
        i = j + 1
    return blocks


def runnable_blocks(markdown: str) -> list[Block]:
    """The Python blocks a guide's test executes."""
    return [b for b in code_blocks(markdown) if b.language in RUNNABLE and not b.skip]


def run_page(path: Path) -> None:
    """Execute ``path``'s runnable blocks in one module namespace, in the current directory.

    Each block is compiled with the page as its file name and its real line
    numbers, so a traceback points into the Markdown source.
    """
    module = types.ModuleType("guide_" + re.sub(r"\W", "_", path.stem))
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses and pickling look classes up here
    for block in runnable_blocks(path.read_text(encoding="utf-8")):
        padded = "\n" * (block.line - 1) + block.source
        try:
            code = compile(padded, str(path), "exec")
            exec(code, module.__dict__)
        except BaseException:
            sys.stderr.write(f"\nThe block at {path.name}:{block.line} failed:\n")
            traceback.print_exc()
            raise SystemExit(1) from None


def run_guide(page: Path, cwd: Path) -> None:
    """Run ``page`` in a fresh process in ``cwd``; fail the test with its output."""
    if not runnable_blocks(page.read_text(encoding="utf-8")):
        pytest.skip(f"{page.name} has no runnable python block")
    result = _run([__file__, str(page)], cwd=cwd)
    assert result.returncode == 0, f"{page.relative_to(ROOT)}: {_report(result)}"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit code {result.returncode}\n--- stdout ---\n{result.stdout[-6000:]}" + (
        f"\n--- stderr ---\n{result.stderr[-8000:]}"
    )


@pytest.mark.parametrize("page", GUIDES, ids=[p.stem for p in GUIDES])
def test_guide_runs(page: Path, tmp_path: Path) -> None:
    run_guide(page, tmp_path)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_smoke_run(example: Path, tmp_path: Path) -> None:
    result = _run([str(example), "--smoke"], cwd=tmp_path)
    assert result.returncode == 0, f"{example.relative_to(ROOT)} --smoke: {_report(result)}"
    assert result.stdout.strip(), f"{example.name} --smoke printed nothing"


def test_there_are_guides_and_smoke_examples() -> None:
    assert GUIDES, "docs/guides has no page"
    assert any(p.name == "digits.py" for p in EXAMPLES), "examples/digits.py lost --smoke"


def test_code_blocks_are_extracted_with_their_lines_and_skip_marker() -> None:
    page = (
        "# Title\n"  # 1
        "```python\n"  # 2
        "a = 1\n"  # 3
        "```\n"  # 4
        "<!-- skip -->\n"  # 5
        "\n"  # 6
        "```python\n"  # 7
        "raise SystemExit\n"  # 8
        "```\n"  # 9
        "1. A list item:\n"  # 10
        "\n"  # 11
        "    ```py title='x.py'\n"  # 12
        "    b = a + 1\n"  # 13
        "    ```\n"  # 14
        "````markdown\n"  # 15
        "```python\n"  # 16
        "nested = True\n"  # 17
        "```\n"  # 18
        "````\n"  # 19
        "```text\n"  # 20
        "output\n"  # 21
        "```\n"  # 22
    )
    blocks = code_blocks(page)
    assert [(b.language, b.line, b.skip) for b in blocks] == [
        ("python", 3, False),
        ("python", 8, True),
        ("py", 13, False),
        ("markdown", 16, False),
        ("text", 21, False),
    ]
    assert [b.source for b in runnable_blocks(page)] == ["a = 1\n", "b = a + 1\n"]


if __name__ == "__main__":
    if sys.path and sys.path[0] == str(Path(__file__).parent):
        del sys.path[0]  # the script's folder is not part of a reader's session
    run_page(Path(sys.argv[1]).resolve())
