"""Every public function, class, method and property has a docstring with a ``>>>`` example.

The examples themselves run as doctests in each package's own test session
(``--doctest-modules``); this test checks that none is missing, and runs the few
that doctest cannot find (those of ``functools.cached_property`` members). It
imports the five packages, so the ``meta`` session installs them.
"""

import doctest
import functools
import importlib
import inspect
import pkgutil
import sys
import types

import pytest

PACKAGES = ["axon.functional", "axon.model", "axon.optim", "axon.loop", "axon.loggers"]


def public_modules(package_name):
    """``package_name`` and its submodules, less those with a ``_private`` name component."""
    package = importlib.import_module(package_name)
    yield package
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


def ours(obj):
    return (getattr(obj, "__module__", None) or "").startswith("axon.")


def public_names(module):
    """``__all__``, else the public names defined in ``module`` or its private submodules
    (``axon.functional.layers`` re-exports its private modules with ``import *``)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (getattr(value, "__module__", None) or "").startswith(module.__name__)
    ]


def generated(cls, name):
    """Members that ``dataclasses`` or ``typing.NamedTuple`` write, not our code."""
    return name in getattr(cls, "_fields", ()) or name in getattr(cls, "__dataclass_fields__", {})


def members(cls):
    """``(qualified name, function, cached)`` of the public methods and properties ``cls``
    defines or inherits from our own (possibly private) base classes; ``cached`` marks a
    ``functools.cached_property``, whose docstring doctest's finder never visits."""
    for owner in cls.__mro__:
        if not ours(owner):
            continue
        for name, value in vars(owner).items():
            if name.startswith("_") or generated(owner, name):
                continue
            cached = isinstance(value, functools.cached_property)
            if isinstance(value, staticmethod | classmethod):
                value = value.__func__
            if isinstance(value, property):
                value = value.fget
            elif cached:
                value = value.func
            elif not inspect.isfunction(value):
                continue  # class attributes, enum members, nested classes checked elsewhere
            if ours(value):
                yield f"{owner.__module__}.{owner.__qualname__}.{name}", value, cached


def documented(obj):
    return ">>>" in (obj.__doc__ or "")


@functools.cache
def public_objects():
    """``{qualified name: (function or class, cached)}`` of everything public."""
    found = {}
    for package in PACKAGES:
        for module in public_modules(package):
            for name in public_names(module):
                obj = getattr(module, name)
                if not ours(obj):
                    continue  # re-exported from a third-party library, e.g. pluggy's hookimpl
                if isinstance(obj, types.FunctionType) or inspect.isclass(obj):
                    found[f"{obj.__module__}.{obj.__qualname__}"] = (obj, False)
                if inspect.isclass(obj):
                    for qualified, member, cached in members(obj):
                        found[qualified] = (member, cached)
    return found


def test_every_public_object_has_a_docstring_example():
    missing = sorted(name for name, (obj, _) in public_objects().items() if not documented(obj))
    if missing:
        pytest.fail(
            f"{len(missing)} public objects have no '>>>' example in their docstring:\n  "
            + "\n  ".join(missing),
            pytrace=False,
        )


def test_examples_that_doctest_modules_skips_run():
    """``--doctest-modules`` skips ``cached_property`` docstrings; run their examples here."""
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    skipped = {name: obj for name, (obj, cached) in public_objects().items() if cached}
    for name, obj in skipped.items():
        globs = dict(vars(sys.modules[obj.__module__]))
        runner.run(parser.get_doctest(obj.__doc__, globs, name, None, 0))
    assert runner.summarize(verbose=False).failed == 0
