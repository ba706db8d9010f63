"""Layout rules of the monorepo: namespace, versions, pins, dependencies, entry points."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["functional", "model", "optim", "loop", "loggers"]
PACKAGES = {name: ROOT / "packages" / f"axon-{name}" for name in NAMES}

# DESIGN.md §3: what each package may depend on among its siblings.
ALLOWED_SIBLINGS = {
    "functional": set(),
    "model": {"axon-functional"},
    "optim": set(),
    "loop": {"axon-functional"},
    "loggers": set(),
}


def pyproject(name):
    return tomllib.loads((PACKAGES[name] / "pyproject.toml").read_text())


def requirement_name(requirement):
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]


def test_exactly_the_five_packages_exist():
    found = sorted(p.name for p in (ROOT / "packages").iterdir() if p.is_dir())
    assert found == sorted(f"axon-{name}" for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_package_layout(name):
    path = PACKAGES[name]
    assert (path / "README.md").is_file()
    assert (path / "src" / "axon" / name / "py.typed").is_file()
    assert (path / "src" / "axon" / name / "__init__.py").is_file()
    assert list((path / "tests").glob("test_*.py")), "every package needs tests from day one"
    # PEP 420: nothing but the package's own folder directly under the namespace
    assert sorted(p.name for p in (path / "src" / "axon").iterdir()) == [name]
    assert pyproject(name)["build-system"]["build-backend"] == "hatchling.build"
    wheel = pyproject(name)["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["only-include"] == [f"src/axon/{name}"]


def test_no_namespace_init_anywhere():
    assert not list(ROOT.glob("packages/*/src/axon/__init__.py"))


def test_versions_are_lockstep():
    versions = {name: pyproject(name)["project"]["version"] for name in NAMES}
    assert len(set(versions.values())) == 1, versions


@pytest.mark.parametrize("name", NAMES)
def test_sibling_pins_are_ranges_within_the_minor_version(name):
    major, minor, _ = pyproject(name)["project"]["version"].split(".")
    expected = f">={major}.{minor}.0,<{major}.{int(minor) + 1}"
    project = pyproject(name)["project"]
    pins = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        pins += extra
    for requirement in pins:
        if requirement.startswith("axon-"):
            assert requirement == f"{requirement_name(requirement)}{expected}", requirement


@pytest.mark.parametrize("name", NAMES)
def test_dependencies_follow_the_design(name):
    dependencies = {requirement_name(r) for r in pyproject(name)["project"]["dependencies"]}
    assert {d for d in dependencies if d.startswith("axon-")} == ALLOWED_SIBLINGS[name]
    if name == "functional":
        assert dependencies == {"jax", "numpy", "pluggy"}
    if name == "loggers":
        assert "jax" not in dependencies


@pytest.mark.parametrize("name", NAMES)
def test_builtins_register_through_their_own_entry_point(name):
    entry_points = pyproject(name)["project"]["entry-points"]
    assert entry_points == {f"axon.{name}": {f"axon-{name}": f"axon.{name}._builtins"}}
    source = PACKAGES[name] / "src" / "axon" / name
    assert (source / "_builtins.py").is_file() and (source / "_hookspecs.py").is_file()
    assert f'HookspecMarker("axon.{name}")' in (source / "_hookspecs.py").read_text()
    assert f'HookimplMarker("axon.{name}")' in (source / "plugins.py").read_text()


def test_vendored_registry_copies_are_identical():
    canonical = (PACKAGES["functional"] / "src/axon/functional/_registry.py").read_text()
    for name in ("optim", "loggers"):
        copy = (PACKAGES[name] / f"src/axon/{name}/_registry.py").read_text()
        assert copy == canonical, f"axon-{name}'s _registry.py differs from axon-functional's"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)```", readme.split("## Quick start", 1)[1], re.S)[0]
    lines = [line for line in commands.strip().splitlines() if not line.startswith("#")]
    assert len(lines) == 2, lines
    assert lines[1] in (ROOT / ".ci" / "run").read_text()
