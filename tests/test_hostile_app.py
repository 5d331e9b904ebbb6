"""Hostile requests against the launched app, over raw HTTP as an attacker sends them.

Each bad input is built inside the test (benchmarks/hostile.py holds the catalogue, which
`python benchmarks/hostile.py` also times). For each: a clear message (English here, and its
Chinese in engines.errors), an answer within 5 s, the app still serving a normal request after,
the app's RSS under 1.5 GB; and at the end, nothing new in the repository or the home folder.
One app serves the whole module.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from benchmarks import hostile
from engines.errors import MESSAGES
from tests.launch import ROOT, launched_app, rss_bytes

pytestmark = pytest.mark.app

CASES = {c.name: c for c in hostile.cases() if c.quick}
UNEXPECTED = "Something went wrong on the server"


def _tree(root: Path, skip=(".git", ".pytest_cache", "__pycache__", ".ruff_cache")) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        out.update(os.path.join(dirpath, f) for f in filenames)
    return out


def _home_top() -> set[str]:
    home = Path.home()
    return {str(p) for p in home.iterdir()} | {str(p) for p in (home / ".cache").glob("*")}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app_tmp = tmp_path_factory.mktemp("app-tmp")
    before = (_tree(ROOT), _home_top())
    with launched_app(env=hostile.soak_env(app_tmp, ttl_s=3600)) as (url, proc, _):
        yield {"url": url, "pid": proc.pid, "before": before, "app_tmp": app_tmp}


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if not c.needs])
def test_hostile_input_is_refused_clearly(app, name):
    case = CASES[name]
    answer = case.send(app["url"])
    assert answer.refused or not case.must_refuse, f"{name} was not refused: {answer}"
    assert answer.seconds < hostile.REFUSE_WITHIN_S, f"{name} took {answer.seconds:.1f} s"
    assert UNEXPECTED not in answer.message
    assert case.expect in answer.message, answer.message
    for key in case.keys:
        assert MESSAGES[key].get("zh"), f"no Chinese for {key}"
    assert hostile.normal_call(app["url"]).kind == "complete", "the app stopped serving after " + name
    assert rss_bytes(app["pid"]) < hostile.RSS_BOUND_MB * 2**20


@pytest.mark.xfail(strict=False, reason="engine fix on branch heng: the model is built from config.json "
                                        "before the weights are compared")
def test_checkpoint_asking_for_250_gb_is_refused_clearly(app):
    answer = CASES["huge_config_zip"].send(app["url"])
    assert hostile.normal_call(app["url"]).kind == "complete"
    assert rss_bytes(app["pid"]) < hostile.RSS_BOUND_MB * 2**20
    assert answer.refused and answer.seconds < hostile.REFUSE_WITHIN_S
    assert UNEXPECTED not in answer.message, "refused, but as an unexpected error rather than a clear message"


def test_huge_body_answer_names_the_limit_in_both_languages(app):
    import httpx

    r = httpx.post(app["url"] + "gradio_api/queue/join", content=b"[" + b"0," * (3 * 2**20) + b"0]",
                   headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413
    body = r.json()
    assert "4.0 MB" in body["error"] and "MB" in body["error_zh"] and "请求" in body["error_zh"]


def test_a_normal_sized_request_passes_the_body_limit(app):
    answer = hostile.call(app["url"], "gan_truncation", ["faces-stylegan", "1, 2", 0.7])
    assert answer.kind == "complete", answer


def test_gradio_client_gets_the_message_in_the_sessions_language(app):
    from gradio_client import Client

    client = Client(app["url"], verbose=False, download_files=False)
    try:
        # gradio_client's JSON refuses NaN and infinities itself; raw HTTP above sends those.
        with pytest.raises(Exception, match="between -3.0 and 3.0"):
            client.predict("mnist-vae-z16", 1e308, *[0.0] * 15, api_name="/vae_slider")
        client.predict("zh", api_name="/set_language")
        with pytest.raises(Exception, match="必须是数字"):
            client.predict("mnist-vae-z16", "many", *[0.0] * 15, api_name="/vae_slider")
        out = client.predict("mnist-vae-z16", *[0.5] * 16, api_name="/vae_slider")
        assert out is not None
    finally:
        client.close()


def test_uploads_per_session_are_capped(app):
    """The fifth upload into one session is refused (gradio_client keeps one session)."""
    from gradio_client import Client, handle_file

    body = hostile.checkpoint_zip(ROOT / "assets" / "mnist-vae-z2")
    folder = Path(tempfile.mkdtemp(prefix="hostile-upload-"))
    path = folder / "vae.zip"
    path.write_bytes(body)
    client = Client(app["url"], verbose=False, download_files=False)
    try:
        statuses = [client.predict([handle_file(str(path))], *hostile.VAE_UPLOAD_EXTRA, api_name="/vae_upload")[-2]
                    for _ in range(5)]
    finally:
        client.close()
        path.unlink()
        folder.rmdir()
    assert not any(str(s).startswith("⚠️") for s in statuses[:4]), statuses
    assert str(statuses[4]).startswith("⚠️") and "4" in statuses[4], statuses[4]


def test_monitoring_is_off(app):
    import httpx

    r = httpx.get(app["url"] + "monitoring", timeout=10)
    assert r.status_code in (403, 404), r.text[:200]


def test_nothing_written_outside_the_apps_temp_folders(app):
    """Runs last in this module: after every hostile input, no new file in the repository or the
    home folder, and the traversal zip's file nowhere near."""
    repo_before, home_before = app["before"]
    new_repo = sorted(_tree(ROOT) - repo_before)
    new_home = sorted(_home_top() - home_before)
    assert not new_repo, new_repo[:10]
    assert not new_home, new_home[:10]
    escaped = "genlab-escaped.txt"
    for where in (ROOT, ROOT.parent, Path(tempfile.gettempdir()), app["app_tmp"], Path.home()):
        assert not (where / escaped).exists()
