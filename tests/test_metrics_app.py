"""The Metrics tab through gradio_client against a launched app: one compute call, hostile inputs."""

from __future__ import annotations

import re

import pytest

from tests.launch import launched_app

CJK = re.compile(r"[\u4e00-\u9fff]")
SCORES = dict(models=["vae/mnist-vae-z2"], n=40, seed=0, steps=10, features="classifier")


@pytest.fixture(scope="module")
def client(mnist_dir_module):
    from gradio_client import Client

    with launched_app("--lang", "en", "--data-dir", str(mnist_dir_module), env={"HF_HUB_OFFLINE": "1"}) as (url, _, _):
        yield Client(url, verbose=False)


@pytest.fixture(scope="module")
def mnist_dir_module():
    from pathlib import Path

    from tests.conftest import ROOT, _has_mnist

    for folder in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if _has_mnist(folder):
            return folder
    pytest.skip("MNIST files not found")


def table_of(result) -> str:
    texts = [v for v in result if isinstance(v, str)]
    return next(t for t in texts if "| model |" in t)


@pytest.mark.app
def test_scores_through_the_api_then_hostile_numbers_get_a_clear_message(client):
    from gradio_client.exceptions import AppError

    table = table_of(client.predict(**SCORES, api_name="/metrics_scores"))
    fid = re.search(r"\| mnist-vae-z2 \| ([0-9.]+ ± [0-9.]+) \|", table)
    assert "mnist-classifier" in table and fid
    for field, value in (("n", -5), ("n", 10**9), ("steps", 0.5), ("features", "inception")):
        with pytest.raises(AppError) as err:
            client.predict(**{**SCORES, field: value}, api_name="/metrics_scores")
        message = str(err.value)
        assert len(message) > 20 and "Traceback" not in message and "went wrong" not in message, message
    again = table_of(client.predict(**SCORES, api_name="/metrics_scores"))  # the app is still there, same numbers
    assert fid.group(1) in again
