"""requirements.txt is honest: every third-party package the app imports is pinned there.

The app is app.py, demo/ and engines/ (what a Space runs). Imports are read with `ast`, so lazy
imports inside functions count too; nothing is imported to find them.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN = {"app", "demo", "engines"}

# Imported only when present, never needed: each with the reason it is not in requirements.txt.
OPTIONAL = {
    # ZeroGPU's decorator (engines.gpu); the Hub installs it on a Gradio Space, and off ZeroGPU
    # nothing calls it. scripts/deploy_space.py --hardware zerogpu adds it to the upload's list.
    "spaces": "ZeroGPU only",
}


def app_sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "demo").rglob("*.py")), *sorted((ROOT / "engines").rglob("*.py"))]


def imported_modules(path: Path) -> set[str]:
    """Top-level module names imported anywhere in the file (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def normalise(name: str) -> str:
    """PEP 503: case and runs of -, _ and . do not matter in a distribution's name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(path: Path = ROOT / "requirements.txt") -> dict[str, str]:
    """{normalised name: version} for every `name==version` line."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line):
            pins[normalise(m[1])] = m[2]
    return pins


def third_party() -> dict[str, set[str]]:
    """{imported module: files importing it} for modules outside the stdlib and the project."""
    found: dict[str, set[str]] = {}
    for path in app_sources():
        for name in imported_modules(path):
            if name in sys.stdlib_module_names or name in OWN or name == "__future__":
                continue
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_known_imports():
    found = third_party()
    for name in ("gradio", "torch", "numpy", "PIL", "psutil", "pandas", "huggingface_hub", "open_clip"):
        assert name in found, name
    assert "os" not in found and "engines" not in found


def test_every_imported_package_is_pinned():
    dists = importlib.metadata.packages_distributions()
    pins = pinned()
    missing = []
    for module, files in sorted(third_party().items()):
        if module in OPTIONAL:
            continue
        names = dists.get(module)
        assert names, f"{module} (imported by {sorted(files)}) is not installed: which distribution is it?"
        if not any(normalise(n) in pins for n in names):
            missing.append(f"{module} -> {names} (imported by {sorted(files)})")
    assert not missing, "imported but not pinned with == in requirements.txt:\n" + "\n".join(missing)


def test_pins_are_the_installed_versions():
    """A pin that differs from what the tests ran against would be a guess."""
    wrong = []
    for name, version in pinned().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name}=={version}: not installed")
            continue
        if installed != version:
            wrong.append(f"{name}=={version}: installed {installed}")
    assert not wrong, wrong


def test_optional_imports_are_really_optional():
    """An allow-listed module is imported only inside a try block or a function (lazily)."""
    for path in app_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level, outside any try
            names = set()
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {node.module.split(".")[0]}
            assert not names & OPTIONAL.keys(), f"{path.name} imports {names & OPTIONAL.keys()} at import time"


def test_the_checker_catches_a_missing_pin(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("gradio==6.31.0\nTorch == 2.14.1  # note\npsutil>=7\n-r other.txt\n")
    pins = pinned(req)
    assert pins == {"gradio": "6.31.0", "torch": "2.14.1"}
    assert "psutil" not in pins  # a range is not a pin
