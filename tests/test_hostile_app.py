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
UNEXPECTED = hostile.UNEXPECTED


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
        with pytest.raises(Exception, match="between -3 and 3"):
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


# --- in-process: the checks themselves ------------------------------------------------------------


@pytest.mark.parametrize("value, key", [
    (float("nan"), "input_not_finite"), (float("inf"), "input_not_finite"), (1e308, "input_out_of_range"),
    (-0.01, "input_out_of_range"), ("3", "input_not_number"), ([1], "input_not_number"), (True, "input_not_number"),
    (None, "input_not_number"),
])
def test_slider_values_a_widget_could_not_send_are_refused(value, key):
    import gradio as gr

    from demo import guard
    from engines.errors import UserError

    slider = gr.Slider(0, 10, step=1, label="Steps")
    with pytest.raises(UserError) as info:
        guard.check_value(slider, value)
    assert info.value.key == key
    guard.check_value(slider, 10)
    guard.check_value(slider, 0.5)


def test_choices_text_and_checkboxes_are_checked():
    import gradio as gr

    from demo import guard
    from engines.errors import UserError

    def refused(block, value) -> str:
        with pytest.raises(UserError) as info:
            guard.check_value(block, value)
        return info.value.key

    radio = gr.Radio(["ddpm", "ddim"], label="Sampler")
    guard.check_value(radio, "ddim")
    assert refused(radio, "rm") == "input_not_choice"
    assert refused(radio, ["ddim"]) == "input_not_choice"
    custom = gr.Dropdown(["a", "b"], allow_custom_value=True, label="Class")
    guard.check_value(custom, "anything short")
    assert refused(custom, "x" * 201) == "input_too_long"
    assert refused(custom, True) == "input_not_choice"  # not text: a choice refused, not a 'too long' one
    assert refused(gr.Checkbox(label="Fast"), "yes") == "input_not_bool"
    assert refused(gr.CheckboxGroup(["x", "y"], label="Show"), ["x", "z"]) == "input_not_choice"
    assert refused(gr.Textbox(label="Prompt"), "a" * (guard.TEXT_MAX + 1)) == "input_too_long"
    guard.check_value(gr.Textbox(label="Captions", lines=8), "a" * (guard.TEXT_MAX + 1))
    assert refused(gr.Textbox(label="Prompt"), 5) == "input_not_text"
    assert refused(gr.Number(label="Learning rate"), 1e300) == "input_out_of_range"  # no bounds of its own
    guard.check_value(gr.Number(label="Seed"), None)


def test_message_uses_the_sessions_language_or_both():
    from demo import guard
    from engines.errors import UserError

    err = UserError("input_not_finite", label="t", value="nan")
    assert "finite" in str(guard.message(err, "en")) and "有限" not in str(guard.message(err, "en"))
    assert "有限" in str(guard.message(err, "zh"))
    both = str(guard.message(err, None))
    assert "finite" in both and "有限" in both


def test_upload_room_and_memory_budget(monkeypatch):
    from demo import common
    from engines.errors import UserError

    full = {"vae": {f"m{i}": f"/nowhere/{i}" for i in range(common.MAX_UPLOADS)}}
    with pytest.raises(UserError) as info:
        common.check_upload_room(full, "vae")
    assert info.value.key == "uploads_full"
    common.check_upload_room(full, "ddpm")  # other families have their own room
    monkeypatch.setattr(common, "MAX_RSS_MB", 1)
    with pytest.raises(UserError) as info:
        common.check_upload_room({}, "vae")
    assert info.value.key == "app_full" and "try again in a minute" in str(info.value).lower()


@pytest.mark.parametrize("raw,seen", [("90", 90.0), ("0", 1.0), ("inf", 7.0), ("-inf", 7.0), ("nan", 7.0),
                                      ("lots", 7.0), (None, 7.0)])
def test_host_numbers_from_the_environment_are_finite_and_bounded(monkeypatch, raw, seen):
    from demo import common

    if raw is None:
        monkeypatch.delenv("GENLAB_TEST_NUMBER", raising=False)
    else:
        monkeypatch.setenv("GENLAB_TEST_NUMBER", raw)
    assert common._env_number("GENLAB_TEST_NUMBER", 7, 1) == seen


def test_sweeper_frees_idle_sessions_and_calls_their_delete_callbacks(monkeypatch):
    import datetime
    from types import SimpleNamespace

    from demo import common

    freed = []
    fresh = datetime.datetime.now()
    stale = fresh - datetime.timedelta(seconds=common.SESSION_TTL_S + 5)
    state = SimpleNamespace(delete_callback=freed.append)  # a gr.State with a delete_callback

    def session(value):
        return SimpleNamespace(is_closed=False, state_components=[(state, value, False)], state_data={1: value})

    class Holder:
        lock = __import__("threading").Lock()
        session_data = {"old": session("old uploads"), "new": session("new uploads")}
        time_last_used = {"old": stale, "new": fresh}

    demo = SimpleNamespace(state_holder=Holder())
    assert common.sweep_sessions(demo) == 1
    assert freed == ["old uploads"] and list(demo.state_holder.session_data) == ["new"]
    assert list(demo.state_holder.time_last_used) == ["new"]


def test_launch_settings_bound_uploads_and_bodies():
    import app

    kwargs = app.launch_kwargs()
    assert kwargs["max_file_size"] == 50 * 2**20
    assert kwargs["enable_monitoring"] is False
    (middleware,) = kwargs["app_kwargs"]["middleware"]
    assert middleware.kwargs["max_bytes"] == app.MAX_REQUEST_MB * 2**20


@pytest.mark.parametrize("host, seen", [(None, "False")])  # a host's "True" stays: os.environ.setdefault
def test_analytics_are_off_unless_the_host_turns_them_on(host, seen):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED"}
    if host is not None:
        env["GRADIO_ANALYTICS_ENABLED"] = host
    code = "import app, gradio.analytics as a; print(a.analytics_enabled())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == str(seen == "True"), out.stderr[-2000:]


def test_engine_cache_evicts_only_session_models(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from demo import common

    monkeypatch.setattr(common, "_engine_class", lambda family: SimpleNamespace(load=lambda path: object()))
    cache = common.EngineCache(maxsize=2)
    shipped = [tmp_path / f"shipped-{i}" for i in range(3)]
    uploads = [tmp_path / f"genlab-upload-{i}" for i in range(4)]
    for path in [*shipped, *uploads]:
        cache.get("vae", path)
    kept = {Path(k[1]).name for k in cache._items}
    assert kept == {"shipped-0", "shipped-1", "shipped-2", "genlab-upload-2", "genlab-upload-3"}


def test_a_second_upload_while_the_first_is_checked_is_refused(monkeypatch, tmp_path):
    from demo import common
    from engines.errors import UserError

    monkeypatch.setattr(common, "_session_hash", lambda: "session-a")
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with common._one_upload("session-a"):  # the first upload, still being checked
        with pytest.raises(UserError) as err:
            common.add_upload([str(tmp_path / "x.zip")], {}, "vae")
        assert err.value.key == "upload_busy"
        assert "上传" in err.value.localized("zh")
    # Once it is done, the next one is checked as usual (here: nothing to unpack).
    with pytest.raises(UserError) as err:
        common.add_upload([str(tmp_path / "x.zip")], {}, "vae")
    assert err.value.key != "upload_busy"
    assert "session-a" not in common._UPLOADING


def test_a_cached_picture_is_written_once_and_never_rewritten_in_place(tmp_path, monkeypatch):
    import os

    import numpy as np
    from gradio import processing_utils as pu
    from PIL import Image

    from demo import common

    monkeypatch.setattr(pu, "save_pil_to_cache", pu.save_pil_to_cache)  # undone after the test
    common.write_cached_pictures_once()
    assert getattr(pu.save_pil_to_cache, "_genlab", False)
    picture = Image.fromarray((np.arange(32 * 32) % 251).astype(np.uint8).reshape(32, 32))
    first = pu.save_img_array_to_cache(np.asarray(picture), str(tmp_path), format="png")
    inode = os.stat(first).st_ino
    os.utime(first, (1e9, 1e9))  # made long ago (2001): Gradio's delete_cache would take it at its next sweep
    again = pu.save_img_array_to_cache(np.asarray(picture), str(tmp_path), format="png")
    assert again == first and os.stat(again).st_ino == inode  # the same file, not written again
    assert os.stat(again).st_mtime > 1e9 + 86400 * 365  # but its age starts again: it was just given out
    os.remove(first)  # removed by delete_cache: the next session's copy is written anew
    assert pu.save_img_array_to_cache(np.asarray(picture), str(tmp_path), format="png") == first and os.path.isfile(first)
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(picture))
    assert not [p for p in tmp_path.rglob("*.part")]  # nothing half-written left behind
