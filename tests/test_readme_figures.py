"""The README's generated tables (scripts/readme_figures.py): the text is what its result files
generate, and every figure in them has a value in its result file behind it."""

from __future__ import annotations

import json
import re

import pytest

from scripts import readme_figures as rf

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def leaves(data) -> list[float]:
    """Every number in a JSON document."""
    if isinstance(data, dict):
        return [x for v in data.values() for x in leaves(v)]
    if isinstance(data, list):
        return [x for v in data for x in leaves(v)]
    return [float(data)] if isinstance(data, (int, float)) and not isinstance(data, bool) else []


def unbacked(body: str, data) -> list[str]:
    """Figures in a block's table cells (its label column and header rows aside) that no value in the
    result file rounds to, at the figure's own number of decimals."""
    values = leaves(data)
    missing = []
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or set(line) <= set("|- ") or cells[-1] in ("target", "SSIM", "precision"):
            continue
        for cell in cells[1:]:
            if cell.startswith("≤"):  # a target (the issue's), not a measurement
                continue
            for token in NUMBER.findall(cell):
                digits = len(token.split(".")[1]) if "." in token else 0
                x = float(token.replace(",", ""))
                if not any(round(v, digits) == x or abs(v - x) <= 0.5 * 10 ** -digits + 1e-9 for v in values):
                    missing.append(token)
    return missing


def test_the_readme_has_the_blocks_and_they_are_what_the_results_generate():
    text = rf.README.read_text(encoding="utf-8")
    names = {name for name, _, _ in rf.blocks(text)}
    assert names == set(rf.MAKERS), names
    assert rf.render(text) == text, "run python scripts/readme_figures.py"


def test_every_figure_in_the_blocks_has_a_result_behind_it():
    for name, file, body in rf.blocks(rf.README.read_text(encoding="utf-8")):
        data = json.loads((rf.ROOT / file).read_text(encoding="utf-8"))
        assert body.count("\n|") >= 3, name
        assert unbacked(body, data) == [], (name, file)


def test_the_checks_can_fail(tmp_path):
    assert unbacked("| model | a |\n| --- | --- |\n| x | 1.25 |\n", {"a": 1.3}) == ["1.25"]
    assert unbacked("| model | a |\n| --- | --- |\n| x | 1.3 |\n", {"a": 1.2999}) == []
    source = json.loads((rf.RESULTS / "metrics_speed-cpu-2026-12-07.json").read_text(encoding="utf-8"))
    source["table"][0]["fid"] += 1.0
    (tmp_path / "r.json").write_text(json.dumps(source), encoding="utf-8")
    marked = "<!-- figures:metrics-scores from r.json (scripts/readme_figures.py) -->\nold\n<!-- /figures:metrics-scores -->"
    new = rf.render(marked, root=tmp_path)
    assert "old" not in new and f"{source['table'][0]['fid']:.1f}" in new
    with pytest.raises(FileNotFoundError):
        rf.render(marked.replace("r.json", "gone.json"), root=tmp_path)


def test_the_shapes_table_has_a_result_behind_each_figure():
    found = sorted((rf.ROOT / "benchmarks" / "results").glob("metrics_shapes-cpu-*.json"))
    if not found:
        pytest.skip("no committed shapes metrics result")
    data = json.loads(found[-1].read_text(encoding="utf-8"))
    body = rf.metrics_shapes(data)
    assert body.count("\n|") == len(data["rows"]) + 2 and "shapes-vae-z16" in body
    assert unbacked(body, data) == []
