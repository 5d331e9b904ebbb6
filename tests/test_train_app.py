"""The training tab in the launched app (python app.py, offline) through gradio_client: each Client
is its own session; the host's limits come from the environment (one run at a time, one waiting)."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest

from tests.launch import launched_app

pytestmark = pytest.mark.app

LIMITS = {"GENLAB_MAX_JOBS": "1", "GENLAB_MAX_QUEUE": "1", "GENLAB_JOB_STEPS": "100000", "OMP_NUM_THREADS": "1"}
# family, dataset, size, steps, batch, lr, n_images, seed, preview_every, fast, then the families' own
# settings in registry order: beta, latent, r1, p_uncond (engines.studio.RECIPE_FIELDS)
TINY = ["vae", "shapes", "tiny", 30, 16, 0.003, 64, 0, 10, False, 1.0, 16, 1.0, 0.1]


def settings(**kw) -> list:
    names = ["family", "dataset", "size", "steps", "batch", "lr", "n_images", "seed", "preview_every", "fast",
             "beta", "latent", "r1", "p_uncond"]
    return [kw.get(n, v) for n, v in zip(names, TINY)]


@pytest.fixture(scope="module")
def server():
    with launched_app("--lang", "en", env=LIMITS) as (url, _proc, _):
        yield url


def client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def frame(plot, shown=None):
    """An output's value: the value itself, or the update that carries it; `shown` (what the browser
    already has) for an update that carries none, as a poll without new events sends for the plot."""
    if isinstance(plot, dict) and "__type__" in plot:
        return plot.get("value", shown)
    return shown if plot is None else plot


def poll_until(c, text: str, timeout: float = 60.0):
    end = time.perf_counter() + timeout
    while True:
        out = c.predict(api_name="/train_poll")
        if text in out[0]:
            return out
        assert time.perf_counter() < end, f"{text!r} not seen; last status: {out[0]}"
        time.sleep(0.3)


def test_a_run_streams_its_curve_and_samples_then_keeps_its_model(server, tmp_path):
    c = client(server)
    status, _, plot, *_ = c.predict(None, *settings(), api_name="/train_start")
    assert "vae-shapes" in status
    seen, plot = [], frame(plot)
    end = time.perf_counter() + 60
    while time.perf_counter() < end:
        status, stats, update, _preview, _ = c.predict(api_name="/train_poll")
        plot = frame(update, plot)
        seen.append(len(plot["data"]))
        if "finished" in status:
            break
        time.sleep(0.3)
    assert "finished after 30 steps" in status and "30 / 30" in stats and "CPU" in stats
    assert seen[-1] > 0 and sorted(seen) == seen and len(set(seen)) >= 2   # the curve grew while we watched
    assert {row[2] for row in plot["data"]} == {"loss", "recon", "kl"}
    # The checkpoint zip: three files, safetensors only; a new session continues from it.
    path = frame(c.predict("my-vae", api_name="/train_download"))
    with zipfile.ZipFile(path) as z:
        assert sorted(Path(n).name for n in z.namelist() if not n.endswith("/")) == [
            "card.json", "config.json", "model.safetensors"]
        card = json.loads(z.read(next(n for n in z.namelist() if n.endswith("card.json"))))
    assert card["trainer"]["step"] == 30 and card["trainer"]["phases"][0]["param_groups"][0]["betas"]
    other = client(server)
    out = other.predict([{"path": path, "meta": {"_type": "gradio.FileData"}}], None, api_name="/train_continue")
    value = [u.get("value") if isinstance(u, dict) and "__type__" in u else u for u in out]
    assert "30 steps so far" in out[0] and value[3:5] == ["vae", "shapes"]
    other.predict(None, *settings(steps=5), api_name="/train_resume")
    poll_until(other, "finished after 35 steps")


def test_stop_answers_within_a_second_and_the_queue_never_hangs(server):
    a, b, c = client(server), client(server), client(server)
    a.predict(None, *settings(steps=100_000, preview_every=0), api_name="/train_start")
    poll_until(a, "Training")
    status, *_ = b.predict(None, *settings(steps=3), api_name="/train_start")
    assert "**1** run(s) ahead of you" in status
    t0 = time.perf_counter()
    with pytest.raises(Exception) as err:
        c.predict(None, *settings(), api_name="/train_start")
    assert time.perf_counter() - t0 < 5 and "busy" in str(err.value) and "ahead of you" in str(err.value)
    t0 = time.perf_counter()
    status, *_ = a.predict(api_name="/train_stop")   # Stop answers once the run has ended
    assert time.perf_counter() - t0 < 1.0 and "stopped" in status
    poll_until(b, "finished after 3 steps")


def test_bad_settings_get_a_clear_message(server):
    c = client(server)
    with pytest.raises(Exception) as err:
        c.predict(None, *settings(lr=1e9), api_name="/train_start")
    assert "Learning rate must be between" in str(err.value)
    with pytest.raises(Exception) as err:
        c.predict(None, *settings(dataset="toy2d"), api_name="/train_start")
    assert "2-D playground" in str(err.value)
