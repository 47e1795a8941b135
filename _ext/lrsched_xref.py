"""Sphinx: resolve references to lrsched objects under whichever name the API page documents.

Users import ``lrsched.ScheduledLR``, and docstrings say so, but the API reference documents each
object where it is defined (``lrsched.scheduler.ScheduledLR``), and the lab's functions under
their public name (``lrsched.lab.train``, not ``lrsched.lab.trainer.train``). Sphinx only knows
the documented name, so with nitpicky mode any other spelling -- including a bare ``Schedule`` in
a numpydoc type -- would be a broken link. This handler imports the object the reference names
and tries each of its names: where it is defined, and every public name it has in ``lrsched`` or
``lrsched.lab``. The link works and nothing is silenced: a name that does not exist still warns.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

PACKAGE = "lrsched"
PUBLIC_MODULES = (PACKAGE, f"{PACKAGE}.lab")


def _lookup(target: str) -> Any | None:
    """The object a dotted ``lrsched...`` name refers to, or None."""
    parts = target.split(".")
    for split in range(len(parts) - 1, 0, -1):  # the longest importable module prefix
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


@functools.lru_cache(maxsize=1)
def _public_names() -> dict[str, list[str]]:
    """Bare public name -> its dotted public paths (``"train"`` -> ``["lrsched.lab.train"]``)."""
    names: dict[str, list[str]] = {}
    for module in PUBLIC_MODULES:
        for name in getattr(importlib.import_module(module), "__all__", []):
            names.setdefault(name, []).append(f"{module}.{name}")
    return names


def _candidates(target: str) -> list[str]:
    """Every name under which the object of ``target`` may be documented."""
    if "." in target:
        if not target.startswith(PACKAGE + "."):
            return []
        targets = [target]
    else:  # a bare name in a docstring's type, e.g. ``schedule : Schedule`` or :func:`train`
        targets = _public_names().get(target, [])
    found = []
    for dotted in targets:
        obj = _lookup(dotted)
        if obj is None:
            continue
        found.append(dotted)
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if module and qualname:
            found.append(f"{module}.{qualname}")  # where it is defined
        name = getattr(obj, "__name__", None)
        for public in _public_names().get(name, []) if name else []:
            if _lookup(public) is obj:  # the same object, exported under a public name
                found.append(public)
    return [c for c in dict.fromkeys(found) if c != target]


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    for candidate in _candidates(node.get("reftarget", "")):
        resolved = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], candidate, node, contnode)
        if resolved is not None:
            return resolved
    return None


def setup(app):
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
