"""A soak: sessions that open, upload a checkpoint, train a few steps and leave, half of them with
no browser at all (raw /gradio_api/call requests, no heartbeat). Once the sweeper's session
lifetime (4 s here, GENLAB_SESSION_TTL_S) has passed, RSS is back within 10% of its baseline and
the app's temporary folder holds no file. `python benchmarks/hostile.py --soak` runs 200 sessions;
this runs 12 (about two minutes on the busy 2-core CPU).
"""

from __future__ import annotations

import pytest

from benchmarks import hostile
from tests.launch import launched_app

pytestmark = [pytest.mark.app, pytest.mark.slow]

SESSIONS = 12


def test_sessions_are_freed_and_rss_returns(tmp_path):
    with launched_app(env=hostile.soak_env(tmp_path, ttl_s=4.0)) as (url, proc, _):
        result = hostile.soak(url, proc.pid, SESSIONS, tmp_path, settle_s=6.0)
    assert result["failed"] == 0, result["failures"]
    assert result["api_only"] == SESSIONS // 2
    assert result["rss_end_vs_baseline"] <= 1.10, result
    assert result["temp_files_left"] == [], result["temp_files_left"]
