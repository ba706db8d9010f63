"""A Griffe extension: render the packages' docstring markup as Markdown would need it.

The docstrings are Google style, written for ``pytest --doctest-modules`` and for
reading in an editor. Before mkdocstrings renders one, this extension changes two
things, and only in how it is shown:

- **Doctests** (``>>> ...`` runs, at top level or under a Google ``Example:``
  admonition) are wrapped in a ```` ```pycon ```` fence. Markdown would otherwise
  read ``>>>`` as three nested block quotes, and ``[1, 2]`` in an output line as a
  link reference. Runs under an ``Examples:`` section are left to Griffe, which
  renders those itself.
- **Sphinx roles** (``:func:`~axon.loop.trainer```) become inline code
  (``trainer``; the ``~`` keeps the last component, as in Sphinx).

Configured in ``mkdocs.yml`` (``handlers.python.options.extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADER = re.compile(r"^(?P<indent>\s*)(?P<title>[A-Za-z][\w \t-]*):\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_DOCTEST_FLAG = re.compile(r"\s*#\s*doctest:.*$")
_ROLE = re.compile(r":(?:py:)?(?:attr|class|data|exc|func|meth|mod|obj|const):`(?P<target>[^`]+)`")


def plain_roles(text: str) -> str:
    """``text`` with Sphinx cross-reference roles turned into inline code."""

    def code(match: re.Match[str]) -> str:
        target = match["target"]
        if target.startswith("~"):
            target = target[1:].rsplit(".", 1)[-1]
        return f"`{target}`"

    return _ROLE.sub(code, text)


def fence_doctests(text: str) -> str:
    """``text`` with every run of doctest lines wrapped in a ``pycon`` fence."""
    lines = text.splitlines()
    out: list[str] = []
    headers: list[tuple[int, str]] = []  # enclosing section headers: (indent, title)
    in_fence = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if in_fence:
            if stripped.startswith(in_fence):
                in_fence = ""
            out.append(line)
            i += 1
            continue
        if fence := _FENCE.match(line):
            in_fence = fence.group(1)
            out.append(line)
            i += 1
            continue
        if stripped:
            while headers and headers[-1][0] >= indent:
                headers.pop()
            if header := _HEADER.match(line):
                headers.append((indent, header["title"].strip().lower()))
        if not stripped.startswith(">>>") or (headers and headers[-1][1] == "examples"):
            out.append(line)
            i += 1
            continue
        # A doctest run: from this ">>>" line to the next blank or less indented line.
        run = []
        while i < len(lines) and lines[i].strip():
            current = lines[i]
            if len(current) - len(current.lstrip()) < indent:
                break
            run.append(_DOCTEST_FLAG.sub("", current[indent:]))
            i += 1
        pad = " " * indent
        previous = out[-1] if out else ""
        if previous.strip() and len(previous) - len(previous.lstrip()) >= indent:
            out.append("")  # a paragraph ends before the fence (not a section title)
        out.extend([f"{pad}```pycon", *(pad + r for r in run), f"{pad}```"])
        if i < len(lines) and lines[i].strip():
            out.append("")
    return "\n".join(out)


class DocstringMarkup(griffe.Extension):
    """Fence the doctests and plain the Sphinx roles of every loaded docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(plain_roles(obj.docstring.value))
