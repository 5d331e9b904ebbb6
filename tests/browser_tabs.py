"""Opening a tab in a browser page as a student does: a click on its button (issue 22: the app
opens on the Overview tab, so a test or script that needs another tab selects it first)."""

from __future__ import annotations

VAE_READY = "#vae-interp-image img"  # the VAE tab's first refresh has drawn its first picture


def open_tab(page, *elem_ids: str, ready: str | None = None, timeout_ms: int = 60_000) -> None:
    """Click each tab's button in turn, outermost first (e.g. "vae-tab", "vae-tab-ae"), then wait
    for `ready` (a selector the opened tab draws), if given."""
    for elem_id in elem_ids:
        page.click(f"#{elem_id}-button")
    if ready is not None:
        page.wait_for_selector(ready, timeout=timeout_ms)


def open_vae(page, timeout_ms: int = 60_000) -> None:
    """The VAE tab, once its first refresh has drawn (what the page showed at load before issue 22)."""
    open_tab(page, "vae-tab", ready=VAE_READY, timeout_ms=timeout_ms)
