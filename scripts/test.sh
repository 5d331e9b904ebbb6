#!/usr/bin/env bash
# Install what the tests need on a fresh machine, then run every test.
#   ./scripts/test.sh [pytest arguments...]
# Exits non-zero when a test fails, and also when no test ran (pytest exit code 5).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python}"

echo "== installing Python packages (requirements-dev.txt)"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r requirements-dev.txt

# The browser tests drive Debian's Chromium through Playwright (no Playwright browser download).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ]; then
        echo "== installing chromium (apt)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        echo "== note: /usr/bin/chromium is missing and this is not root; browser tests will skip or fail" >&2
    fi
fi

# Chinese plot labels need a CJK font (Noto Sans CJK SC; packages.txt installs it on a Space).
# Without one the plots fall back to English and tests/test_fonts.py skips its Chinese checks.
if ! ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 \
        && ! { command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; }; then
    if [ "$(id -u)" = "0" ]; then
        echo "== installing fonts-noto-cjk (apt)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null
    else
        echo "== note: no CJK font and this is not root; Chinese plot tests will skip" >&2
    fi
fi

export HF_HUB_OFFLINE=1
if [ -z "${GENLAB_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
    GENLAB_DATA_DIR="$(cd ../shared/data && pwd)"
    export GENLAB_DATA_DIR
fi

echo "== running the tests (HF_HUB_OFFLINE=$HF_HUB_OFFLINE, GENLAB_DATA_DIR=${GENLAB_DATA_DIR:-unset})"
start=$(date +%s)
status=0
"$PYTHON" -m pytest "$@" </dev/null || status=$?
elapsed=$(( $(date +%s) - start ))

if [ "$status" -eq 5 ]; then
    echo "== FAILED: pytest collected no tests (exit 5) in ${elapsed}s" >&2
    exit 5
elif [ "$status" -ne 0 ]; then
    echo "== FAILED: pytest exit code $status after ${elapsed}s" >&2
    exit "$status"
fi
echo "== OK: all tests passed in ${elapsed}s"
