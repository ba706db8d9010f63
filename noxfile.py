"""Every check of the monorepo. ``nox`` runs the default sessions; ``nox -l`` lists them.

- ``tests(<package>)``: one package's tests in a virtualenv holding only that
  package, the sibling packages it declares, and its ``test`` dependency group.
  This is what proves "install only the subpackages you need".
- ``integration``: all five packages together with the root ``tests/integration``.
- ``onnx``: all five packages with axon-model's ``onnx`` extra and onnxruntime, running
  ``tests/onnx`` (export, import, PyTorch weights) against committed fixtures.
- ``plugins``: builds every wheel plus ``examples/plugins/axon-example-plugin``,
  installs them from the wheels (not editable) and uses each plugin entry by name.
- ``docs``: builds the documentation site (``mkdocs build --strict``): broken links,
  missing pages and unresolved API references fail it. The guides' code is run by
  ``integration`` (``tests/integration/test_guides.py``).
- ``meta``: layout rules (lockstep versions, sibling pins, PEP 420 namespace,
  entry points, vendored registry copies), and that every public function, class,
  method and property has a docstring example (this imports all five packages).
- ``lint``: ruff.
- ``bench`` (not run by default): ``bench/peers.py``, axon against raw JAX, Keras 3,
  Flax and Equinox; ``nox -s bench -- --quick`` for a smoke run.

Sessions use pip in virtualenvs (not uv) so the machine's pip configuration,
e.g. a local wheel directory, is honoured.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
EXAMPLE_PLUGIN = ROOT / "examples" / "plugins" / "axon-example-plugin"

# Third-party distributions a package's test environment must not contain (DESIGN.md §3).
NOT_INSTALLED = {
    "axon-functional": ["optax", "orbax-checkpoint", "tensorboardX"],
    "axon-model": ["onnx", "onnxruntime", "torch"],
}


def _pyproject(path: Path) -> dict:
    return tomllib.loads((path / "pyproject.toml").read_text())


def _siblings(package: str) -> list[str]:
    """The axon packages ``package`` depends on, transitively, dependencies first."""
    order: list[str] = []

    def visit(name: str) -> None:
        for requirement in _pyproject(ROOT / "packages" / name)["project"]["dependencies"]:
            dependency = requirement.split(">")[0].split("=")[0].split("<")[0].strip()
            if dependency in PACKAGES and dependency not in order:
                visit(dependency)
                order.append(dependency)

    visit(package)
    return order


@nox.session
@nox.parametrize("package", PACKAGES, ids=[p.removeprefix("axon-") for p in PACKAGES])
def tests(session: nox.Session, package: str) -> None:
    """One package alone: its declared siblings, itself and its test group."""
    path = ROOT / "packages" / package
    editable = [arg for s in _siblings(package) for arg in ("-e", str(ROOT / "packages" / s))]
    test_group = nox.project.dependency_groups(_pyproject(path), "test")
    session.install(*editable, "-e", str(path), *test_group)
    absent = [p for p in PACKAGES if p != package and p not in _siblings(package)]
    _assert_not_installed(session, absent + NOT_INSTALLED.get(package, []))
    session.chdir(path)
    session.run("pytest", *session.posargs)


def _assert_not_installed(session: nox.Session, distributions: list[str]) -> None:
    """Fail if the session's environment holds any of ``distributions``."""
    check = (
        "import importlib.metadata as m, sys\n"
        "found = [d for d in sys.argv[1:] if list(m.distributions(name=d))]\n"
        "print('must not be installed:', *sys.argv[1:], '->', found or 'none is')\n"
        "sys.exit(1 if found else 0)"
    )
    session.run("python", "-c", check, *distributions)


@nox.session
def integration(session: nox.Session) -> None:
    """All five packages together, with the cross-package tests and the examples."""
    editable = [arg for p in PACKAGES for arg in ("-e", str(ROOT / "packages" / p))]
    session.install(*editable, *nox.project.dependency_groups(_pyproject(ROOT), "integration"))
    session.run("pytest", "tests/integration", *session.posargs)


@nox.session
def onnx(session: nox.Session) -> None:
    """ONNX export and import (axon-model's ``onnx`` extra), checked against onnxruntime.

    The fixtures under tests/onnx/fixtures are committed; their generator needs torch and
    is not run here. The ``tests(model)`` session proves the base install holds no onnx.
    """
    editable = [arg for p in PACKAGES for arg in ("-e", str(ROOT / "packages" / p))]
    model_with_onnx = f"{ROOT / 'packages' / 'axon-model'}[onnx]"
    session.install(
        *editable, "-e", model_with_onnx, *nox.project.dependency_groups(_pyproject(ROOT), "onnx")
    )
    session.run("pytest", "tests/onnx", *session.posargs)


@nox.session
def plugins(session: nox.Session) -> None:
    """The example plugin, installed from wheels, is usable by name in every registry."""
    wheels = Path(session.create_tmp()) / "wheels"
    for path in [*(ROOT / "packages" / p for p in PACKAGES), EXAMPLE_PLUGIN]:
        session.run(
            "python", "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(path)
        )
    # Install the wheel files by path, so no same-named upload on PyPI is ever picked.
    session.install(
        *map(str, sorted(wheels.glob("*.whl"))),
        *nox.project.dependency_groups(_pyproject(EXAMPLE_PLUGIN), "test"),
    )
    session.run("python", "-m", "pip", "check")
    session.chdir(EXAMPLE_PLUGIN)
    session.run("pytest", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (mkdocs.yml), built with --strict into a temporary folder."""
    editable = [arg for p in PACKAGES for arg in ("-e", str(ROOT / "packages" / p))]
    session.install(*editable, *nox.project.dependency_groups(_pyproject(ROOT), "docs"))
    site = Path(session.create_tmp()) / "site"
    session.run(
        "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
        "--site-dir", str(site), *session.posargs,
        env={"NO_MKDOCS_2_WARNING": "1"},  # mkdocs-material's banner about MkDocs 2
    )  # fmt: skip


@nox.session
def meta(session: nox.Session) -> None:
    """Layout rules of the monorepo, and a docstring example on every public object.

    The layout rules read files only; the docstring check imports the five packages.
    """
    editable = [arg for p in PACKAGES for arg in ("-e", str(ROOT / "packages" / p))]
    session.install(*editable, *nox.project.dependency_groups(_pyproject(ROOT), "meta"))
    session.run("pytest", "tests/meta", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install(*nox.project.dependency_groups(_pyproject(ROOT), "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Training-loop speed against raw JAX and the peers; not a default session (slow, noisy)."""
    editable = [arg for p in PACKAGES for arg in ("-e", str(ROOT / "packages" / p))]
    session.install(*editable, *nox.project.dependency_groups(_pyproject(ROOT), "bench"))
    session.run("python", "bench/peers.py", *session.posargs)
