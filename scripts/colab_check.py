"""``make colab-check``: run every Colab edition the way a student opening it in Colab would.

1. A venv (``~/.cache/lrsched/venv-colab``, or ``--venv``) with Colab's published versions (the
   constraints file of ``shared/colab``) of everything Colab preinstalls that the chapters touch, except Python (3.11
   here, 3.13 in Colab) and torch (2.13.0 CPU from this machine's disk: Colab's torch 2.11 exists
   in the registry only as a CUDA build) and setuptools (torch 2.13 needs >= 77, Colab pins 75).
   Rebuilt only when the pins change.
2. A wheel of the checkout.
3. For each ``colab/NN_name.ipynb``: a copy alone in an empty temporary directory, executed top to
   bottom in that venv's kernel, which believes it runs in Colab (a ``google.colab`` module imported
   at kernel start) and whose install cell installs the wheel (``LRSCHED_COLAB_WHEEL``) instead of
   the repository. Fails on any error; on an install that changes any package Colab already has
   (torch, ipywidgets, numpy, ...); on an install cell that does not print its one line; on an
   ipywidgets control that does not redraw its output when moved in the kernel; and on an lrsched.viz
   explorer whose HTML does not load Vega from the CDN as it must in Colab. The first chapter
   installs into a fresh "Colab"; the others then find lrsched installed, as in a Colab session
   that ran the cell before, and run two at a time (``--jobs``). At the end, what the install
   added is uninstalled, so the venv stays as Colab ships it.

Usage: ``python scripts/colab_check.py [colab/NN_name.ipynb ...] [--pins FILE] [--venv DIR] [--jobs N]``.
The orchestrator needs only the standard library; the kernel side runs inside the venv.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Colab's published versions, copied into the repository so a clean clone anywhere can run the check.
DEFAULT_PINS = ROOT / "scripts" / "colab" / "colab-cpu-2026-08-19-constraints.txt"
# Outside the checkout, so a fresh clone (CI) on the same machine reuses it; rebuilt when the pins change.
DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lrsched" / "venv-colab"
TORCH = "torch==2.13.0"
# Preinstalled in Colab, and what the chapters or the check itself use; versions come from the pins.
COLAB_PACKAGES = [
    "numpy", "pandas", "matplotlib", "scikit-learn", "scipy", "tqdm", "ipywidgets",
    "transformers", "altair", "ipykernel", "ipython", "jupyter_client", "nbclient", "nbformat",
    "wheel",
]
NOT_PINNED = re.compile(r"^(torch|setuptools)\b", re.I)  # see the module docstring
CELL_TIMEOUT = 300
WHEEL_ENV = "LRSCHED_COLAB_WHEEL"


def log(message: str) -> None:
    print(f"colab-check: {message}", flush=True)


# -- the venv -------------------------------------------------------------------------------------


def pins_for_here(pins: Path, out: Path) -> str:
    """The constraints without the lines for torch and setuptools; returns the pip pin."""
    kept = [line for line in pins.read_text().splitlines() if not NOT_PINNED.match(line.strip())]
    out.write_text("\n".join(kept) + "\n")
    pip = next((line.strip() for line in kept if re.match(r"^pip==", line.strip())), "pip")
    return pip


def ensure_venv(venv: Path, pins: Path, python: str) -> Path:
    stamp_text = hashlib.sha256(
        (pins.read_text() + TORCH + " ".join(COLAB_PACKAGES) + python).encode()
    ).hexdigest()
    stamp = venv / "colab-pins.sha256"
    bin_python = venv / "bin" / "python"
    baseline = venv / "colab-freeze.json"
    if stamp.exists() and stamp.read_text() == stamp_text and bin_python.exists() and baseline.exists():
        log(f"venv {venv} is up to date")
        return bin_python
    start = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    constraints = venv / "colab-constraints.txt"
    pip_pin = pins_for_here(pins, constraints)
    pip = [str(bin_python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, pip_pin], check=True)
    subprocess.run([*pip, TORCH, "-c", str(constraints)], check=True)
    subprocess.run([*pip, *COLAB_PACKAGES, "-c", str(constraints)], check=True)
    (venv / "colab-freeze.json").write_text(json.dumps(freeze(bin_python), indent=1, sort_keys=True))
    stamp.write_text(stamp_text)
    log(f"built the venv in {time.monotonic() - start:.0f} s")
    return bin_python


def freeze(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True,
                         capture_output=True, text=True).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


def build_wheel(python: Path, out: Path) -> Path:
    """A wheel of the checkout, built from a copy (no build/ or egg-info left in the tree)."""
    source = out / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "lrsched", source / "lrsched",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Built in isolation, as pip builds the git URL in Colab (Colab's setuptools 75 predates the
    # SPDX license string of pyproject.toml).
    subprocess.run([str(python), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
                   check=True)
    return next(out.glob("lrsched-*.whl"))


def fake_colab(where: Path, python: Path) -> dict[str, str]:
    """Env vars for a kernel of the venv that believes it runs in Colab (``google.colab`` imported)."""
    kernel = where / "jupyter" / "kernels" / "python3"  # JUPYTER_PATH wins over a user's kernels
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Colab check)", "language": "python"}))
    package = where / "fake" / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Stand-in for Colab\'s module (scripts/colab_check.py)."""\n')
    (package / "output.py").write_text("def enable_custom_widget_manager():\n    pass\n")
    startup = where / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab  # noqa: F401\n")
    return {"PYTHONPATH": str(where / "fake"), "IPYTHONDIR": str(where / "ipython"),
            "JUPYTER_PATH": str(where / "jupyter")}


# -- one chapter ----------------------------------------------------------------------------------


def check_chapter(python: Path, notebook: Path, wheel: Path, env: dict[str, str]) -> list[str]:
    """Run one edition alone in an empty directory; return its problems."""
    with tempfile.TemporaryDirectory(prefix="colab-") as tmp:
        copy = Path(tmp) / notebook.name
        shutil.copy2(notebook, copy)
        result = subprocess.run(
            [str(python), __file__, "--kernel-side", str(copy)],
            cwd=tmp, env={**os.environ, **env, WHEEL_ENV: str(wheel)},
            capture_output=True, text=True,
        )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode or not lines:
        return [f"the run failed (exit {result.returncode}): {result.stderr[-3000:]}"]
    report = json.loads(lines[-1][len("RESULT "):])
    log(f"{notebook.name}: {'ok' if not report['problems'] else 'FAILED'} in {report['seconds']:.0f} s; "
        f"install cell: {report['install_line']!r}; {report['controls']} widget controls moved, "
        f"{report['explorers']} Vega-Lite explorers")
    return report["problems"]


def changed_packages(python: Path, colab_packages: dict[str, str]) -> tuple[dict, list[str]]:
    """Colab's packages the install changed, and the packages it added."""
    after = freeze(python)
    changed = {name: f"{version} -> {after.get(name)}" for name, version in colab_packages.items()
               if after.get(name) != version}
    return changed, sorted(set(after) - set(colab_packages))


# -- inside the venv: execute the notebook and probe its widgets --------------------------------

WIDGET_PROBE = r'''
def _colab_check_probe():
    import contextlib, hashlib, io, json, sys
    report = {"controls": 0, "problems": []}
    if "ipywidgets" not in sys.modules:  # the chapter has no ipywidgets explorer
        return report
    import ipywidgets as w
    registry = getattr(w.widgets.widget, "_instances", None) or w.Widget.widgets
    passive = (w.Output, w.Label, w.HTML, w.HTMLMath, w.Valid, w.Image, w.FloatProgress,
               w.IntProgress, w.Button, w.Box)
    controls = [x for x in list(registry.values())
                if isinstance(x, w.ValueWidget) and not isinstance(x, passive)
                and not getattr(x, "disabled", False)]
    ip = get_ipython()

    def drawn(control, value):
        records, errors = [], []
        publish, showtb = ip.display_pub.publish, ip._showtraceback
        def record(data=None, metadata=None, *args, **kwargs):
            records.append(json.dumps(data, sort_keys=True, default=str))
        def error(etype, evalue, stb):
            errors.append(f"{etype.__name__}: {evalue}")
        ip.display_pub.publish, ip._showtraceback = record, error
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                if hasattr(control, "index") and hasattr(control, "options"):
                    control.index = value
                else:
                    control.value = value
        except Exception as exc:  # a control that refuses the value it offers
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            ip.display_pub.publish, ip._showtraceback = publish, showtb
        text = out.getvalue()
        if "Traceback" in text:
            errors.append(text[-500:])
        return hashlib.sha256(("".join(records) + text).encode()).hexdigest(), errors, records or text

    for control in controls:
        name = f"{type(control).__name__} {getattr(control, 'description', '')!r}"
        if hasattr(control, "index") and hasattr(control, "options"):
            n = len(control.options)
            if n < 2 or control.index is None:
                continue
            original = control.index
            values = [k for k in range(n) if k != original][:2]
            values = values if len(values) == 2 else [values[0], original]
        elif isinstance(control.value, bool):
            original = control.value
            values = [not original, original]
        elif hasattr(control, "min") and hasattr(control, "max") and not isinstance(control.value, tuple):
            original = control.value
            values = [control.max, control.min] if original != control.max else [control.min, control.max]
        else:
            continue
        report["controls"] += 1
        first, errors_a, shown_a = drawn(control, values[0])
        second, errors_b, shown_b = drawn(control, values[1])
        drawn(control, original)
        if errors_a or errors_b:
            report["problems"].append(f"{name}: an error when moved: {(errors_a + errors_b)[0]}")
        elif not shown_a or not shown_b:
            report["problems"].append(f"{name}: moving it draws nothing")
        elif first == second:
            report["problems"].append(f"{name}: the output does not change when it moves")
    return report

print("COLAB_CHECK_PROBE " + __import__("json").dumps(_colab_check_probe()))
'''


def _has_rows(node) -> bool:
    """Whether a Vega-Lite spec holds inline data (``"values"``: a non-empty list) somewhere."""
    if isinstance(node, dict):
        values = node.get("values")
        return bool(isinstance(values, list) and values) or any(_has_rows(v) for v in node.values())
    return isinstance(node, list) and any(_has_rows(v) for v in node)


def explorer_problems(nb) -> tuple[int, list[str]]:
    """lrsched.viz explorers: HTML outputs that must draw in Colab, where only the CDN serves Vega."""
    count, problems = 0, []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            html = html if isinstance(html, str) else "".join(html)
            if "lrsched-explorer" not in html:
                continue
            count += 1
            for name in ("vega", "vega-lite", "vega-embed"):
                if not re.search(rf"https://cdn\.jsdelivr\.net/npm/{name}@[\d.]+/build/{name}\.min\.js", html):
                    problems.append(f"cell {index}: the explorer does not load {name} from the CDN")
            spec = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S)
            try:
                spec = json.loads(spec.group(1).replace("<\\/", "</")) if spec else {}
            except json.JSONDecodeError as error:
                spec = {}
                problems.append(f"cell {index}: the explorer's spec is not JSON: {error}")
            if "vega-lite" not in str(spec.get("$schema", "")) or not _has_rows(spec):
                problems.append(f"cell {index}: the explorer's HTML carries no Vega-Lite spec with data")
    return count, problems


def kernel_side(path: Path) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WIDGET_PROBE))
    # allow_errors: every cell runs, so one run reports every failing cell and still moves the
    # widgets of the explorers after a failure; each error output is a problem.
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    problems, start = [], time.monotonic()
    try:
        client.execute()
    except CellExecutionError as error:  # a timeout or a dead kernel
        problems.append(f"the run stopped: {str(error)[-3000:]}")
    seconds = time.monotonic() - start
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                line = next((l for l in cell.source.splitlines() if l.strip() and not l.startswith("#")), "")
                problems.append(f"cell {index} ({line.strip()[:60]}): {output['ename']}: "
                                f"{str(output['evalue'])[:300]}")
    install = nb.cells[0]
    printed = "".join(o.get("text", "") for o in install.get("outputs", []) if o.get("output_type") == "stream")
    install_line = printed.strip()
    if len(printed.strip().splitlines()) != 1 or not install_line.startswith("Installed lrsched"):
        problems.append(f"the install cell printed {printed!r}, not one line saying what it installed")
    probe = {"controls": 0, "problems": []}
    for output in nb.cells[-1].get("outputs", []):
        text = output.get("text", "")
        if text.startswith("COLAB_CHECK_PROBE "):
            probe = json.loads(text.split(" ", 1)[1])
    if not nb.cells[-1].get("outputs"):
        problems.append("the widget probe did not run")
    problems += probe["problems"]
    explorers, viz_problems = explorer_problems(nb)
    problems += viz_problems
    print("RESULT " + json.dumps({"problems": problems, "seconds": seconds, "install_line": install_line,
                                  "controls": probe["controls"], "explorers": explorers}))
    return 0


# -- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--pins", type=Path, default=Path(os.environ.get("LRSCHED_COLAB_PINS", DEFAULT_PINS)))
    parser.add_argument("--venv", type=Path, default=Path(os.environ.get("LRSCHED_COLAB_VENV", DEFAULT_VENV)))
    parser.add_argument("--python", default=os.environ.get("LRSCHED_COLAB_PYTHON", sys.executable),
                        help="the interpreter of the venv (default: this one)")
    parser.add_argument("--jobs", type=int, default=2, help="chapters run side by side after the first")
    parser.add_argument("--kernel-side", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.kernel_side:
        return kernel_side(args.kernel_side)
    start = time.monotonic()
    if not args.pins.exists():
        log(f"no pins at {args.pins}: pass --pins or set LRSCHED_COLAB_PINS")
        return 2
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "colab").glob("*.ipynb"))
    if not notebooks:
        log("no Colab editions in colab/: run `python scripts/make_colab.py`")
        return 2
    python = ensure_venv(args.venv.resolve(), args.pins.resolve(), args.python)
    colab_packages = json.loads((python.parent.parent / "colab-freeze.json").read_text())
    _, leftover = changed_packages(python, colab_packages)
    if leftover:  # an interrupted run left its install behind
        subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", *leftover], check=True)
    failures: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="colab-check-") as tmp:
        wheel = build_wheel(python, Path(tmp))
        env = fake_colab(Path(tmp), python)
        try:
            # The first chapter installs into a fresh "Colab"; the others then find lrsched
            # installed (as in a Colab session that ran the cell before) and run side by side.
            first, rest = notebooks[0], notebooks[1:]
            failures[first.name] = check_chapter(python, first, wheel, env)
            changed, added = changed_packages(python, colab_packages)
            log(f"the install cell added {', '.join(added) or 'nothing'}")
            if changed:
                failures[first.name].append(f"the install cell changed Colab's packages: {changed}")
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                for notebook, problems in zip(rest, pool.map(
                        lambda nb: check_chapter(python, nb, wheel, env), rest)):
                    failures[notebook.name] = problems
            changed, added = changed_packages(python, colab_packages)
            if changed:
                failures.setdefault("(install)", []).append(f"Colab's packages changed: {changed}")
        finally:  # leave the venv as Colab ships it
            _, added = changed_packages(python, colab_packages)
            if added:
                subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", *added], check=True)
    failures = {name: problems for name, problems in failures.items() if problems}
    for name, problems in failures.items():
        for problem in problems:
            log(f"FAIL {name}: {problem}")
    total = time.monotonic() - start
    log(f"{len(notebooks) - len(failures)} passed, {len(failures)} failed in {total:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
