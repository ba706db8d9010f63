"""Named-entry registries filled through pluggy hooks.

Each axon package owns one :class:`PluginSystem` (its hook specs plus the plugins
in its entry-point group) and a few :class:`Registry` objects on top of it
("activations", "optimizers", ...). Built-in entries come through the same entry
points as third-party ones, so every lookup exercises the plugin path.

This module is vendored: identical copies live in ``axon.functional``,
``axon.optim`` and ``axon.loggers`` because those packages depend on no sibling.
``tests/meta`` checks that the copies stay identical; edit all three together.

The examples share one tiny plugin system (a hook ``demo_colors`` returning colors by
name), spelled out in :class:`PluginSystem`'s example and rebuilt by ``_demo`` in the
others.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.metadata
import os
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import pluggy

__all__ = [  # re-exported by the plugins modules of axon-functional, axon-optim and axon-loggers
    "DISABLED_PLUGINS_ENV",
    "DuplicateNameError",
    "PluginError",
    "PluginSystem",
    "Registry",
    "UnknownNameError",
]

T = TypeVar("T")

#: Comma-separated entry-point names that no axon package will load.
DISABLED_PLUGINS_ENV = "AXON_DISABLED_PLUGINS"


class PluginError(Exception):
    """A plugin could not be loaded or conflicts with another one.

    The base class of :class:`DuplicateNameError` and :class:`UnknownNameError`. Here a
    plugin's hook returns a list instead of a ``{name: entry}`` mapping:

    >>> system, colors = _demo(bad=["red"])  # PluginSystem's example, a plugin "bad"
    >>> try:
    ...     colors.get("red")
    ... except PluginError as error:
    ...     print(error)
    Hook demo_colors of plugin 'bad' returned list; it must return a mapping of names to entries.
    """


class DuplicateNameError(PluginError):
    """Two providers registered the same name in one registry.

    >>> system, colors = _demo(first={"red": "#f00"}, second={"red": "#ff0000"})
    >>> try:
    ...     colors.get("red")
    ... except DuplicateNameError as error:
    ...     print(str(error).split(". ")[0])
    The color name 'red' is registered twice: by plugin 'first' and by plugin 'second'
    """


class UnknownNameError(PluginError, LookupError):
    """A name that no installed provider registered.

    Also a ``LookupError``; the message suggests close matches (see
    :meth:`Registry.unknown_message`).

    >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
    >>> try:
    ...     colors.get("rde")
    ... except LookupError as error:
    ...     print(type(error).__name__, str(error).split(" Known")[0])
    UnknownNameError Unknown color 'rde'. Did you mean 'red'?
    """

    def __str__(self) -> str:  # LookupError would repr() the message
        return str(self.args[0])


def require_callable(
    name: str, entry: object, *, what: str = "Entry", must_be: str = "callable"
) -> None:
    """The usual ``validate`` of a :class:`Registry`: an entry must be callable.

    ``what`` and ``must_be`` word the message for one kind of entry.

    >>> require_callable("double", lambda x: 2 * x)
    >>> try:
    ...     require_callable("double", 2.0)
    ... except TypeError as error:
    ...     print(error)
    Entry 'double' must be callable, got float.
    """
    if not callable(entry):
        raise TypeError(f"{what} {name!r} must be {must_be}, got {type(entry).__name__}.")


class PluginSystem:
    """The pluggy manager of one axon package, created on first use.

    Args:
        project: the pluggy project name; plugins mark their hooks with
            ``pluggy.HookimplMarker(project)``.
        hookspecs: the module holding the package's hook specifications.
        entry_point_group: the entry-point group plugins are registered under.

    A self-contained plugin system with one hook; the registries built on it look
    entries up by name:

    >>> import types, pluggy
    >>> class Hooks:  # the hook specifications, usually a module
    ...     @pluggy.HookspecMarker("demo")
    ...     def demo_colors(): ...
    >>> hookimpl = pluggy.HookimplMarker("demo")
    >>> plugin = types.SimpleNamespace(demo_colors=hookimpl(lambda: {"red": "#f00"}))
    >>> system = PluginSystem("demo", Hooks, "demo.plugins")
    >>> system.register(plugin, name="basic")
    'basic'
    >>> colors = Registry(system, "demo_colors", "color")
    >>> colors.get("red")
    '#f00'
    """

    def __init__(self, project: str, hookspecs: types.ModuleType, entry_point_group: str):
        self.project = project
        self.hookspecs = hookspecs
        self.entry_point_group = entry_point_group
        self.generation = 0  # bumped on every change, so registries know to rebuild
        self._manager: pluggy.PluginManager | None = None
        self._providers: dict[str, str] = {}
        self._lock = threading.RLock()

    @property
    def manager(self) -> pluggy.PluginManager:
        """The ``pluggy.PluginManager``, created on first access.

        Creating it loads every plugin of the entry-point group (less those named in
        ``AXON_DISABLED_PLUGINS``). No distribution registers in ``"demo.plugins"``, so
        only the plugin registered by hand answers:

        >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> system.manager.hook.demo_colors()
        [{'red': '#f00'}]
        """
        with self._lock:
            if self._manager is None:
                self._manager = self._create_manager()
                self.generation += 1
            return self._manager

    def _create_manager(self) -> pluggy.PluginManager:
        manager = pluggy.PluginManager(self.project)
        manager.add_hookspecs(self.hookspecs)
        disabled = {n.strip() for n in os.environ.get(DISABLED_PLUGINS_ENV, "").split(",")}
        for name in disabled - {""}:
            manager.set_blocked(name)
        self._providers = {}
        for entry_point in importlib.metadata.entry_points(group=self.entry_point_group):
            if manager.is_blocked(entry_point.name) or manager.has_plugin(entry_point.name):
                continue
            dist = _distribution_label(entry_point)
            remedy = (
                f"Fix or uninstall that distribution, or skip it by setting "
                f"{DISABLED_PLUGINS_ENV}={entry_point.name}."
            )
            try:
                plugin = entry_point.load()
            except Exception as error:
                raise PluginError(
                    f"The axon plugin {entry_point.name!r} from distribution {dist} failed to "
                    f"import ({entry_point.value!r} in entry-point group "
                    f"{self.entry_point_group!r}): {type(error).__name__}: {error}. {remedy}"
                ) from error
            label = f"{entry_point.name!r} from distribution {dist} ({entry_point.value!r})"
            self._register(manager, plugin, entry_point.name, label, remedy)
            self._providers[entry_point.name] = f"{dist} ({entry_point.value})"
        return manager

    def _register(
        self,
        manager: pluggy.PluginManager,
        plugin: object,
        name: str | None,
        label: str,
        remedy: str,
    ) -> str | None:
        """Register ``plugin`` and check its hooks; if that fails, ``manager`` is left as it was.

        pluggy adds a plugin before ``check_pending`` finds a misspelled hook; left
        there, the plugin would make every later registration fail with its error.
        """
        was_registered = manager.is_registered(plugin)
        try:
            registered = manager.register(plugin, name=name)
            manager.check_pending()
        except pluggy.PluginValidationError as error:
            if not was_registered and manager.is_registered(plugin):
                manager.unregister(plugin)
            hooks = sorted(n for n, caller in vars(manager.hook).items() if caller.has_spec())
            raise PluginError(
                f"The axon plugin {label} could not be registered: {error}. Nothing of it was "
                f"kept. The hooks of {self.project!r} are {', '.join(hooks)}. {remedy}"
            ) from error
        return registered

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object or module by hand (tests, notebooks).

        Returns the name it is registered under. Raises :class:`PluginError` if that
        name is disabled by ``AXON_DISABLED_PLUGINS``, or if a hook of the plugin is
        unknown or malformed; the plugin system is then left as it was.

        >>> import types, pluggy
        >>> system, colors = _demo()  # PluginSystem's example, no plugin registered yet
        >>> hookimpl = pluggy.HookimplMarker("demo")
        >>> plugin = types.SimpleNamespace(demo_colors=hookimpl(lambda: {"red": "#f00"}))
        >>> system.register(plugin, name="basic")
        'basic'
        >>> colors.names()
        ['red']
        """
        with self._lock:
            label = repr(name if name is not None else plugin)
            remedy = "Fix the plugin and register it again."
            registered = self._register(self.manager, plugin, name, label, remedy)
            if registered is None:
                raise PluginError(f"Plugin {name!r} is blocked by {DISABLED_PLUGINS_ENV}.")
            self.generation += 1
            return registered

    def unregister(self, name: str) -> None:
        """Remove the plugin registered under ``name``; registries forget its entries.

        >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> colors.names()
        ['red']
        >>> system.unregister("basic")
        >>> colors.names()
        []
        """
        with self._lock:
            self.manager.unregister(name=name)
            self._providers.pop(name, None)
            self.generation += 1

    @contextlib.contextmanager
    def temporary(self, plugin: object, name: str | None = None) -> Iterator[str]:
        """Register ``plugin`` for the duration of a ``with`` block (for tests).

        >>> import types, pluggy
        >>> system, colors = _demo()  # PluginSystem's example, no plugin registered yet
        >>> hookimpl = pluggy.HookimplMarker("demo")
        >>> plugin = types.SimpleNamespace(demo_colors=hookimpl(lambda: {"red": "#f00"}))
        >>> with system.temporary(plugin, name="basic") as name:
        ...     print(name, colors.names())
        basic ['red']
        >>> colors.names()
        []
        """
        registered = self.register(plugin, name)
        try:
            yield registered
        finally:
            self.unregister(registered)

    def reload(self) -> None:
        """Forget every plugin and load the entry points again (after ``pip install``).

        Plugins registered by hand are forgotten too:

        >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> system.reload()
        >>> system.manager.has_plugin("basic")
        False
        """
        with self._lock:
            self._manager = None
            self.generation += 1

    def provider(self, plugin_name: str) -> str:
        """A human-readable label for a registered plugin: its distribution, if known.

        Entry-point plugins read ``"<distribution> <version> (<module>)"``; plugins
        registered by hand are named by their plugin name:

        >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> system.provider("basic")
        "plugin 'basic'"
        """
        return self._providers.get(plugin_name, f"plugin {plugin_name!r}")

    def registry(
        self,
        hook: str,
        kind: str,
        validate: Callable[[str, Any], None] | None = require_callable,
    ) -> Registry[Any]:
        """A :class:`Registry` of the entries of ``hook`` on this system.

        Entries must be callable unless ``validate`` says otherwise (``None``: anything).

        >>> system, _ = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> system.registry("demo_colors", "color", validate=None).get("red")
        '#f00'
        >>> try:
        ...     system.registry("demo_colors", "color").get("red")
        ... except TypeError as error:
        ...     print(error)
        Entry 'red' must be callable, got str.
        """
        return Registry(self, hook, kind, validate)

    def collect(self, hook: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Call every implementation of ``hook``, yielding ``(provider, entries)``.

        >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> list(system.collect("demo_colors"))
        [("plugin 'basic'", {'red': '#f00'})]
        """
        caller = getattr(self.manager.hook, hook)
        for impl in caller.get_hookimpls():
            entries = impl.function()
            if entries is None:
                continue
            if not isinstance(entries, Mapping):
                raise PluginError(
                    f"Hook {hook} of {self.provider(impl.plugin_name)} returned "
                    f"{type(entries).__name__}; it must return a mapping of names to entries."
                )
            yield self.provider(impl.plugin_name), entries


class Registry(Generic[T]):
    """Entries of one kind (``"activation"``, ``"optimizer"``...) looked up by name.

    Built lazily from ``hook`` on first lookup and rebuilt whenever the plugin
    system changes. A name registered twice is an error naming both providers.

    Args:
        plugins: the package's plugin system.
        hook: the hook whose implementations return ``{name: entry}`` mappings.
        kind: the singular noun used in messages, e.g. ``"activation"``.
        validate: called on each entry; raises ``TypeError`` for a malformed one.

    >>> system, _ = _demo(basic={"red": "#f00"})  # PluginSystem's example
    >>> colors = Registry(system, "demo_colors", "color")
    >>> colors
    <Registry of 1 colors from 'demo.plugins'>
    >>> "red" in colors, colors.get("red")
    (True, '#f00')
    """

    def __init__(
        self,
        plugins: PluginSystem,
        hook: str,
        kind: str,
        validate: Callable[[str, Any], None] | None = None,
    ):
        self.plugins = plugins
        self.hook = hook
        self.kind = kind
        self._validate = validate
        self._entries: dict[str, tuple[T, str]] = {}
        self._generation = -1

    def _table(self) -> dict[str, tuple[T, str]]:
        _ = self.plugins.manager  # loads the plugins (and bumps the generation) on first use
        if self._generation != self.plugins.generation:
            entries: dict[str, tuple[T, str]] = {}
            for provider, mapping in self.plugins.collect(self.hook):
                for name, entry in mapping.items():
                    if name in entries:
                        raise DuplicateNameError(
                            f"The {self.kind} name {name!r} is registered twice: by "
                            f"{entries[name][1]} and by {provider}. Uninstall one of them, "
                            f"or disable one plugin with {DISABLED_PLUGINS_ENV}=<entry-point name>."
                        )
                    if self._validate is not None:
                        self._validate(name, entry)
                    entries[name] = (entry, provider)
            self._entries, self._generation = entries, self.plugins.generation
        return self._entries

    def get(self, name: str) -> T:
        """The entry registered under ``name``; unknown names suggest close matches.

        >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> colors.get("red")
        '#f00'
        >>> try:
        ...     colors.get("rde")
        ... except UnknownNameError as error:
        ...     print(str(error).split(" Known")[0])
        Unknown color 'rde'. Did you mean 'red'?
        """
        table = self._table()
        if name in table:
            return table[name][0]
        raise UnknownNameError(self.unknown_message(name))

    def unknown_message(self, name: object) -> str:
        """The message of the :class:`UnknownNameError` for ``name``: close matches, then
        every known name and where more come from.

        >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> print(colors.unknown_message("rd"))  # doctest: +NORMALIZE_WHITESPACE
        Unknown color 'rd'. Did you mean 'red'? Known colors: red.
        More can be added by plugins in the 'demo.plugins' entry-point group.
        """
        known = sorted(self._table())
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"Unknown {self.kind} {name!r}.{hint} Known {_plural(self.kind)}: {', '.join(known)}. "
            f"More can be added by plugins in the {self.plugins.entry_point_group!r} "
            f"entry-point group."
        )

    def provider(self, name: str) -> str:
        """Which distribution registered ``name`` (see :meth:`PluginSystem.provider`).

        >>> system, colors = _demo(basic={"red": "#f00"})  # PluginSystem's example
        >>> colors.provider("red")
        "plugin 'basic'"
        """
        self.get(name)
        return self._table()[name][1]

    def names(self) -> list[str]:
        """Every registered name, sorted.

        >>> system, colors = _demo(basic={"red": "#f00"}, second={"blue": "#00f"})
        >>> colors.names()
        ['blue', 'red']
        """
        return sorted(self._table())

    def __contains__(self, name: object) -> bool:
        return name in self._table()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        group = self.plugins.entry_point_group
        return f"<Registry of {len(self)} {_plural(self.kind)} from {group!r}>"


def _distribution_label(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "<unknown distribution>"
    return f"{dist.metadata['Name']} {dist.version}"


def _demo(**plugins: object) -> tuple[PluginSystem, Registry[Any]]:
    """The plugin system of the examples, as in :class:`PluginSystem`'s: project ``"demo"``
    with one hook, ``demo_colors``; a plugin per keyword, registered under that name, whose
    hook returns the keyword's value; and the ``"color"`` registry on that hook."""

    class Hooks:
        @pluggy.HookspecMarker("demo")
        def demo_colors(): ...

    hookimpl = pluggy.HookimplMarker("demo")

    def plugin(entries: object) -> object:
        return types.SimpleNamespace(demo_colors=hookimpl(lambda: entries))

    system = PluginSystem("demo", Hooks, "demo.plugins")
    for name, entries in plugins.items():
        system.register(plugin(entries), name=name)
    return system, Registry(system, "demo_colors", "color")


def _plural(kind: str) -> str:
    consonant_y = kind.endswith("y") and kind[-2:-1] not in tuple("aeiou")
    return kind[:-1] + "ies" if consonant_y else kind + "s"
