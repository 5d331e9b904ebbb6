"""The engine never imports the UI: no gradio (or demo/) under engines/, statically or at run time."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE_FILES = sorted((ROOT / "engines").rglob("*.py"))
FORBIDDEN = ("gradio", "gradio_client", "demo", "app")


def forbidden_imports(source: str, filename: str = "<src>") -> list[str]:
    """Top-level names of forbidden modules that `source` imports, by any spelling ast can see."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names = [node.module]
            elif node.level >= 2:  # from .. import demo: out of the package
                names = [node.module or a.name for a in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
        found += [n for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def test_the_checker_catches_every_spelling():
    for src in ("import gradio as gr", "from gradio import Blocks", "import os, gradio.themes",
                "def f():\n    import gradio", "importlib.import_module('gradio')", "__import__('demo.state')",
                "from .. import demo"):
        assert forbidden_imports(src), src
    assert not forbidden_imports("import torch\nfrom . import runtime\nfrom .errors import UserError\nx = 'gradio'")


def test_engine_files_exist():
    names = {p.relative_to(ROOT / "engines").as_posix() for p in ENGINE_FILES}
    assert {"__init__.py", "runtime.py", "checkpoint.py", "train.py", "vae.py", "cli.py", "data/__init__.py",
            "data/mnist.py", "data/shapes.py", "data/images.py", "data/folder.py", "diffusion/__init__.py"} <= names


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_engine_module_imports_the_ui(path):
    assert forbidden_imports(path.read_text(encoding="utf-8"), str(path)) == []


def test_importing_every_engine_module_loads_no_gradio():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in ENGINE_FILES if p.name != "__main__.py"  # __main__ runs the command line
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print('loaded', len([m for m in sys.modules if m.startswith('engines')]), 'bad', bad)\n"
    )
    env = {**os.environ, "GENLAB_DEVICE": "cpu"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.endswith("bad []"), last
    assert int(last.split()[1]) >= len(modules)
