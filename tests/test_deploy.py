"""scripts/deploy_space.py: what a Space gets, the checks that guard it, and .gitattributes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("deploy_space", ROOT / "scripts" / "deploy_space.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_space"] = module
    spec.loader.exec_module(module)
    return module


deploy = _load()


def git_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]


# --------------------------------------------------------------------------------------------
# The file list
# --------------------------------------------------------------------------------------------

def test_the_upload_holds_what_the_space_runs_and_nothing_else():
    files = deploy.space_files(ROOT)
    assert {"app.py", "requirements.txt", "README.md"} <= set(files)
    tracked = git_files()
    for rel in tracked:  # every tracked source of the app, every shipped checkpoint
        if rel.startswith(("demo/", "engines/")) and rel.endswith(".py") or \
                rel.startswith("assets/") and rel.endswith(("model.safetensors", "config.json", "card.json")):
            assert rel in files, rel
    assert any(f.startswith("engines/diffusion/") for f in files)  # sub-packages too
    assert len([f for f in files if f.startswith("assets/") and f.endswith("/model.safetensors")]) >= 10
    for rel in files:
        assert not rel.startswith(("tests/", "benchmarks/", "docs/", "scripts/", ".ci/", ".git")), rel
        assert "__pycache__" not in rel and not rel.endswith(".pyc"), rel
    assert "DEVELOPERS.md" not in files and "requirements-dev.txt" not in files
    assert ("packages.txt" in files) == (ROOT / "packages.txt").is_file()  # apt packages (a CJK font), when there


def test_docs_travel_only_when_asked():
    assert not [f for f in deploy.space_files(ROOT) if f.startswith("docs/")]
    with_docs = deploy.space_files(ROOT, include_docs=True)
    assert "docs/vae-interp.png" in with_docs  # the README's first picture
    assert not [f for f in with_docs if f.startswith(("tests/", "benchmarks/"))]


def test_the_repository_passes_the_dry_run_for_both_kinds_of_space():
    for hardware in ("cpu", "zerogpu"):
        p = deploy.plan(ROOT, hardware=hardware)
        assert not p.problems, (hardware, p.problems)
        assert p.total == sum(len(b) for b in p.files.values()) > 20 * 2**20
        if "packages.txt" not in p.files:  # another change brings it; its absence is only a note
            assert any("packages.txt" in n for n in p.notes)


def test_zerogpu_gets_python_3_12_and_spaces_without_touching_the_repository():
    readme, reqs = (ROOT / "README.md").read_bytes(), (ROOT / "requirements.txt").read_bytes()
    p = deploy.plan(ROOT, hardware="zerogpu")
    meta = deploy.parse_front_matter(p.files["README.md"].decode())
    assert meta["python_version"] == "3.12.12" and meta["sdk"] == "gradio"
    uploaded = p.files["requirements.txt"].decode()
    assert any(line.split("#")[0].strip() == "spaces" for line in uploaded.splitlines())
    assert uploaded.startswith(reqs.decode())
    body = deploy.split_front_matter(p.files["README.md"].decode())[1]
    assert body == deploy.split_front_matter(readme.decode())[1]  # only the front matter changed
    assert (ROOT / "README.md").read_bytes() == readme and (ROOT / "requirements.txt").read_bytes() == reqs
    cpu = deploy.plan(ROOT, hardware="cpu")
    assert cpu.files["README.md"] == readme and cpu.files["requirements.txt"] == reqs


def test_the_report_lists_every_file_with_its_size(capsys):
    assert deploy.main(["--repo", "someone/genlab", "--dry-run"]) == 0
    out = capsys.readouterr().out
    p = deploy.plan(ROOT)
    for rel, data in p.files.items():
        assert rel in out and f"{len(data):,} B" in out
    assert f"{len(p.files)} files, {p.total:,} bytes" in out and "checks passed" in out


# --------------------------------------------------------------------------------------------
# The checks fail where they should (on small copies)
# --------------------------------------------------------------------------------------------

README = """---
title: GenLab
sdk: gradio
sdk_version: 6.31.0
python_version: "3.11"
app_file: app.py
---

# GenLab
"""
APP = """import os
HOST = os.environ.get("GRADIO_SERVER_NAME"), os.environ.get("GRADIO_SERVER_PORT")
if __name__ == "__main__":
    pass
"""


def make_root(tmp_path: Path, readme: str = README, reqs: str = "gradio==6.31.0\n", app: str = APP) -> Path:
    root = tmp_path / "space"
    (root / "engines").mkdir(parents=True)
    (root / "README.md").write_text(readme)
    (root / "requirements.txt").write_text(reqs)
    (root / "app.py").write_text(app)
    (root / "engines" / "__init__.py").write_text("")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("")
    return root


def problems(root: Path, hardware: str = "cpu") -> list[str]:
    return deploy.plan(root, hardware=hardware).problems


def test_a_good_small_copy_passes(tmp_path):
    root = make_root(tmp_path)
    p = deploy.plan(root)
    assert not p.problems, p.problems
    assert sorted(p.files) == ["README.md", "app.py", "engines/__init__.py", "requirements.txt"]


@pytest.mark.parametrize("readme, expected", [
    (README.replace("---\ntitle", "title", 1), "no front matter"),
    (README.replace("sdk: gradio", "sdk: [gradio"), "not valid YAML"),
    (README.replace("sdk: gradio", "sdk: docker"), "sdk must be gradio"),
    (README.replace("sdk_version: 6.31.0", "sdk_version: 6.30.0"), "differs from requirements.txt"),
    (README.replace("sdk_version: 6.31.0\n", ""), "sdk_version must pin"),
    (README.replace("app_file: app.py", "app_file: main.py"), "app_file must be app.py"),
    (README.replace('python_version: "3.11"', 'python_version: "3.9"'), "older than 3.11"),
    (README.replace('python_version: "3.11"\n', ""), "set python_version"),
])
def test_a_broken_front_matter_fails(tmp_path, readme, expected):
    found = problems(make_root(tmp_path, readme=readme))
    assert any(expected in p for p in found), found


def test_a_gradio_pin_that_differs_fails(tmp_path):
    found = problems(make_root(tmp_path, reqs="gradio==6.30.0\ntorch==2.14.1\n"))
    assert any("differs from requirements.txt's gradio==6.30.0" in p for p in found), found


def test_zerogpu_takes_only_its_pythons(tmp_path):
    assert deploy.python_version_ok("3.11", "zerogpu")
    assert deploy.python_version_ok("3.12.1", "zerogpu")
    assert deploy.python_version_ok("3.10.13", "cpu")  # too old for the pins anywhere
    assert deploy.python_version_ok("3.12.12", "zerogpu") is None
    assert deploy.python_version_ok("3.11", "cpu") is None
    assert not problems(make_root(tmp_path), hardware="zerogpu")  # the plan sets 3.12.12 itself


def test_an_app_that_does_not_serve_fails(tmp_path):
    found = problems(make_root(tmp_path, app="import gradio\n"))
    assert any("__main__" in p for p in found) and any("GRADIO_SERVER_NAME" in p for p in found)


def test_pickles_and_large_text_files_fail_large_binaries_pass(tmp_path):
    root = make_root(tmp_path)
    (root / "assets" / "m").mkdir(parents=True)
    (root / "assets" / "m" / "model.pt").write_bytes(b"\x80\x04")
    (root / "engines" / "big.py").write_text("#" * (deploy.LARGE + 1))
    (root / "assets" / "m" / "model.safetensors").write_bytes(b"\0" * (deploy.LARGE + 1))
    (root / "assets" / "m" / "config.json").write_text("{}")
    p = deploy.plan(root)
    assert any("model.pt" in x and "pickled" in x for x in p.problems), p.problems
    assert any("big.py" in x and "over 10 MiB" in x for x in p.problems), p.problems
    assert not any("model.safetensors" in x for x in p.problems)
    assert any("model.safetensors" in x and "Xet" in x for x in p.notes)


def test_a_checkpoint_folder_without_weights_fails(tmp_path):
    root = make_root(tmp_path)
    (root / "assets" / "m").mkdir(parents=True)
    (root / "assets" / "m" / "config.json").write_text("{}")
    assert any("without model.safetensors" in p for p in problems(root))


def test_a_failed_check_exits_non_zero_and_uploads_nothing(tmp_path):
    root = make_root(tmp_path, readme=README.replace("6.31.0", "6.0.0"))
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "deploy_space.py"), "--repo", "a/b", "--dry-run",
                          "--root", str(root)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "FAILED" in out.stdout and "nothing uploaded" in out.stderr


def test_offline_the_real_run_stops_at_once_and_says_why():
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "deploy_space.py"), "--repo", "a/b"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 1
    assert "HF_HUB_OFFLINE is set" in out.stderr
    assert time.perf_counter() - t0 < 60


def test_a_bad_repo_name_is_refused():
    assert deploy.main(["--repo", "no-owner", "--dry-run"]) == 2


# --------------------------------------------------------------------------------------------
# .gitattributes: every tracked binary goes through LFS / Xet
# --------------------------------------------------------------------------------------------

def is_binary(path: Path) -> bool:
    with open(path, "rb") as f:
        return b"\0" in f.read(8192)


def filters(paths: list[str]) -> dict[str, str]:
    out = subprocess.run(["git", "check-attr", "-z", "filter", "--", *paths], cwd=ROOT, capture_output=True,
                         check=True).stdout.decode().split("\0")
    return {out[i]: out[i + 2] for i in range(0, len(out) - 2, 3)}


def test_every_tracked_binary_goes_through_lfs():
    files = git_files()
    binaries = [p for p in files if p.endswith(deploy.XET_SUFFIXES) or is_binary(ROOT / p)]
    assert any(p.endswith(".safetensors") for p in binaries) and any(p.endswith(".png") for p in binaries)
    attrs = filters(binaries)
    uncovered = [p for p in binaries if attrs.get(p) != "lfs"]
    assert not uncovered, f"binary files without an LFS rule in .gitattributes: {uncovered[:20]}"


def test_text_files_stay_plain_git():
    texts = [p for p in git_files() if p.endswith((".py", ".json", ".md", ".txt", ".sh", ".css"))]
    attrs = filters(texts)
    assert not [p for p in texts if attrs.get(p) == "lfs"]


def test_the_rules_cover_types_not_yet_tracked():
    attrs = filters(["x/new.gif", "x/new.mp4", "x/new.zip", "x/new.jpg", "x/new.npz", "x/font.ttf"])
    assert set(attrs.values()) == {"lfs"}, attrs


# --------------------------------------------------------------------------------------------
# A Space built from the upload starts
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.app
def test_the_uploaded_file_set_alone_starts_and_serves(tmp_path):
    from tests.launch import launched_app

    p = deploy.plan(ROOT)
    assert not p.problems
    space = tmp_path / "space"
    deploy.export(p, space)
    assert sorted(str(f.relative_to(space).as_posix()) for f in space.rglob("*") if f.is_file()) == sorted(p.files)
    assert not (space / "tests").exists() and not (space / "docs").exists()
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    with launched_app(root=space, env=env, timeout=120) as (url, proc, seconds):
        with urllib.request.urlopen(url, timeout=30) as r:
            page = r.read().decode("utf-8", errors="replace")
        assert r.status == 200 and "GenLab" in page
        with urllib.request.urlopen(url + "config", timeout=30) as r:
            config = r.read().decode("utf-8", errors="replace")
        assert "mnist-vae" in config  # the shipped checkpoints were found in the copy
    assert proc.returncode is not None


class FakeApi:
    """HfApi as upload() uses it, recording the calls."""

    def __init__(self, remote=()):
        self.remote, self.calls = list(remote), []

    def whoami(self):
        return {"name": "someone"}

    def create_repo(self, repo, **kwargs):
        self.calls.append(("create_repo", repo, kwargs))
        return f"https://huggingface.co/spaces/{repo}"

    def list_repo_files(self, repo, **kwargs):
        return self.remote

    def create_commit(self, repo, *, operations, **kwargs):
        self.calls.append(("create_commit", repo, operations, kwargs))


def test_the_upload_creates_a_gradio_space_and_commits_exactly_the_plan(tmp_path):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    p = deploy.plan(make_root(tmp_path), hardware="zerogpu")
    api = FakeApi(remote=[".gitattributes", "README.md", "engines/old_module.py"])
    url = deploy.upload(p, "someone/genlab", private=True, api=api)
    assert url.endswith("/spaces/someone/genlab")
    (_, repo, kwargs), (_, _, ops, commit) = api.calls
    assert kwargs["repo_type"] == "space" and kwargs["space_sdk"] == "gradio" and kwargs["private"] is True
    assert kwargs["space_hardware"] == "zero-a10g" and kwargs["exist_ok"] is True
    assert commit["repo_type"] == "space"
    added = {op.path_in_repo: op for op in ops if isinstance(op, CommitOperationAdd)}
    assert sorted(added) == sorted(p.files)
    assert [op.path_in_repo for op in ops if isinstance(op, CommitOperationDelete)] == ["engines/old_module.py"]


def test_without_a_login_the_upload_stops_before_creating_anything(tmp_path):
    class NoLogin(FakeApi):
        def whoami(self):
            raise OSError("no token")

    api = NoLogin()
    with pytest.raises(SystemExit, match="hf auth login"):
        deploy.upload(deploy.plan(make_root(tmp_path)), "someone/genlab", private=False, api=api)
    assert api.calls == []
