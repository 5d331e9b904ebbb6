#!/usr/bin/env bash
# Would a Space built from the deploy script's upload start? Export exactly the files the Space
# gets, make a fresh virtual environment (no system site-packages), install requirements.txt as
# the Space's build would, then start `python app.py` from the export and wait for the page.
#   scripts/check_space_start.sh [--hardware cpu|zerogpu] [PYTHON]
# PYTHON: the interpreter the venv is made from (default python3; for ZeroGPU use a 3.12).
# Takes minutes (torch is large); prints the time of each phase. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
HARDWARE=cpu
if [ "${1:-}" = "--hardware" ]; then HARDWARE="$2"; shift 2; fi
PYTHON="${1:-python3}"
WORK="$(mktemp -d /tmp/genlab-space-XXXXXX)"
PORT="${PORT:-7961}"
trap 'kill "${APP_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

t0=$(date +%s)
python scripts/deploy_space.py --repo check/genlab --hardware "$HARDWARE" --export "$WORK/space" | tail -1
"$PYTHON" -m venv "$WORK/venv"
echo "== venv from $("$WORK/venv/bin/python" --version), installing the Space's requirements.txt"
# (pip's notes about local index folders it skips are left out of the log)
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$WORK/space/requirements.txt" 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored" || true; }
t1=$(date +%s)
echo "== installed in $((t1 - t0)) s"

cd "$WORK/space"
HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False GRADIO_SERVER_NAME=127.0.0.1 GRADIO_SERVER_PORT="$PORT" \
    "$WORK/venv/bin/python" app.py > "$WORK/app.log" 2>&1 &
APP_PID=$!
for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$PORT/" -o "$WORK/page.html" 2>/dev/null; then
        t2=$(date +%s)
        grep -q GenLab "$WORK/page.html" || { echo "== FAILED: the page does not say GenLab" >&2; exit 1; }
        echo "== OK: the exported Space serves http://127.0.0.1:$PORT/ $((t2 - t1)) s after install"
        exit 0
    fi
    kill -0 "$APP_PID" 2>/dev/null || { echo "== FAILED: app.py exited" >&2; tail -30 "$WORK/app.log" >&2; exit 1; }
    sleep 0.5
done
echo "== FAILED: no page within 300 s" >&2; tail -30 "$WORK/app.log" >&2; exit 1
