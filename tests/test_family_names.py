"""A family is named in one place: "vae", "ddpm" and "stylegan" appear as string literals in engines/ and
demo/ only in their own modules, the registry and the string tables (issue 18). Docstrings and comments
are not code, so they are not counted."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVERYWHERE = ("engines/families.py", "engines/errors.py", "demo/i18n*.py")  # the registry, the string tables
# Each name's own modules: the family's engine and its tab (with the tab's helpers). The 2-D playground
# has a toy model called "vae" (engines.toy2d's model kinds: another thing of the same name).
OWN = {
    # The PixelCNN's Likelihood sub-tab sets its exact likelihood beside the VAE's bound: it lists the VAE's models.
    "vae": ("engines/vae.py", "demo/vae_tab.py", "demo/vae_plots.py", "demo/pixelcnn_tab.py",
            "engines/toy2d/playground.py", "demo/playground_tab.py", "demo/playground_plots.py"),
    "ddpm": ("engines/diffusion/*.py", "demo/diffusion_tab.py", "demo/diffusion_inputs.py",
             "demo/diffusion_plots.py"),
    "stylegan": ("engines/stylegan/*.py", "demo/gan_tab.py", "demo/gan_plots.py"),
}


def _docstrings(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                                            ast.Constant):
            out.add(id(body[0].value))
    return out


def family_literals(path: Path, names=tuple(OWN)) -> list[tuple[int, str]]:
    """(line, name) of every string literal in `path` that is exactly one of the family names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    return sorted((n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant)
                  and isinstance(n.value, str) and n.value in names and id(n) not in docs)


def _allowed(rel: str, name: str) -> bool:
    return any(Path(rel).match(pattern) for pattern in (*EVERYWHERE, *OWN[name]))


def test_family_names_are_literals_only_in_their_own_modules():
    found = {}
    for path in sorted([*(ROOT / "engines").rglob("*.py"), *(ROOT / "demo").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        bad = [(line, name) for line, name in family_literals(path) if not _allowed(rel, name)]
        if bad:
            found[rel] = bad
    assert found == {}, "ask the registry (engines.families) instead of naming a family"


def test_the_scan_finds_a_literal_and_skips_docstrings(tmp_path):
    path = tmp_path / "x.py"
    path.write_text('"""About the vae."""\n\ndef f(family):\n    """ddpm"""\n    return family == "ddpm"\n',
                    encoding="utf-8")
    assert family_literals(path) == [(5, "ddpm")]
    assert not _allowed("demo/clip_tab.py", "ddpm") and _allowed("engines/diffusion/engine.py", "ddpm")
    assert _allowed("demo/i18n_clip.py", "stylegan") and not _allowed("demo/vae_tab.py", "stylegan")
