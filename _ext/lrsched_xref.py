"""Sphinx: resolve references to lrsched's public names to where the API page documents them.

Users import ``lrsched.ScheduledLR``, and docstrings say so, but the API reference documents each
object in its own module (``lrsched.scheduler.ScheduledLR``). Sphinx only knows the second name,
so with nitpicky mode every ``:class:`lrsched.ScheduledLR``` would be a broken link, and so
would a bare ``Schedule`` in a numpydoc type. This handler imports the name, finds the module that
defines it and resolves the reference there: the link works and nothing is silenced. A name that
does not exist still warns.
"""

from __future__ import annotations

import importlib
from typing import Any

PACKAGE = "lrsched"


def _canonical(target: str) -> str | None:
    """``lrsched.X`` (or ``lrsched.sub.X``) -> ``defining.module.X``, or None."""
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
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not module or not qualname:
            return None
        canonical = f"{module}.{qualname}"
        return canonical if canonical != target else None
    return None


def _public_names() -> dict[str, str]:
    """Bare public names (``Schedule``, ``History``, ...) -> their dotted public path."""
    names = {}
    for module in (PACKAGE, f"{PACKAGE}.lab"):
        for name in getattr(importlib.import_module(module), "__all__", []):
            names.setdefault(name, f"{module}.{name}")
    return names


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if "." not in target:  # a bare name in a docstring's type, e.g. ``schedule : Schedule``
        target = _public_names().get(target, "")
    if not target.startswith(PACKAGE + "."):
        return None
    canonical = _canonical(target)
    if canonical is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode)


def setup(app):
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
