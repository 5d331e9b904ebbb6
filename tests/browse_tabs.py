"""Tabs in Playwright. `open_tab` / `open_vae`: a tab opened by its button's id, as a student
clicks it (the app opens on the Overview, so a test or script that needs another tab selects it
first). `walk`: every tab and sub-tab of the launched app, at any window size: a narrow window folds
tab buttons into Gradio's "more tabs" menu, whose items have no ids, so there tabs are found and
clicked by their labels (the page's hidden copy of each tab bar lists them all)."""

from __future__ import annotations

import time

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


# The labels of a tab bar, in order (Gradio keeps a visually hidden copy of every button).
LABELS = """w => [...w.querySelector(':scope > .tab-container.visually-hidden').children]
    .filter(b => b.tagName === 'BUTTON').map(b => b.innerText.trim())"""

# The gr.Tabs (by id) directly inside the shown panel of the gr.Tabs `root` (not sub-sub-tabs).
BARS_IN = """(root) => [...root.querySelectorAll('.tab-wrapper')]
    .map(w => w.parentElement)
    .filter(t => t.id && t.offsetParent !== null && t.parentElement.closest('.tabs') === root)
    .map(t => t.id)"""

# Elements sticking out of the window on the right (the widest few), for a failure's message.
WIDEST = """() => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (el.closest('.visually-hidden, svg, .katex, .overflow-dropdown')) continue;
    if (r.width > 0 && r.right > vw + 1 && el.offsetParent !== null)
      out.push([Math.round(r.right), el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
               (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ')[0] : '')]);
  }
  return out.sort((a, b) => b[0] - a[0]).slice(0, 6);
}"""


def labels(page, tabs_id: str) -> list[str]:
    return page.evaluate(LABELS, page.locator(f"#{tabs_id} > .tab-wrapper").element_handle())


def click_tab(page, tabs_id: str, label: str) -> None:
    """Select the tab labelled `label` of the gr.Tabs `tabs_id`, through the "more tabs" menu when
    the window is too narrow for its button."""
    wrapper = page.locator(f"#{tabs_id} > .tab-wrapper")
    button = wrapper.locator(":scope > [role=tablist] > button", has_text=label)
    for candidate in button.all():
        if candidate.inner_text().strip() == label:
            candidate.click()
            return
    wrapper.locator(":scope > .overflow-menu > button").click()
    item = wrapper.locator(":scope > .overflow-menu > .overflow-dropdown > button")
    for candidate in item.all():
        if candidate.inner_text().strip() == label:
            candidate.click()
            return
    raise AssertionError(f"no tab {label!r} in #{tabs_id}")


def sub_bars(page, tabs_id: str) -> list[str]:
    return page.evaluate(BARS_IN, page.locator(f"#{tabs_id}").element_handle())


def overflow(page) -> int:
    """How far the page scrolls sideways, in CSS pixels (0: not at all)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def walk(page, check, top: str = "genlab-tabs", settle_s: float = 0.8, path: str = "") -> list[str]:
    """Select every tab of the gr.Tabs `top` and, inside each, every sub-tab (at any depth), calling
    check(path) on each view, path being "Tab", "Tab / Sub-tab", ...; -> the paths visited."""
    seen = []
    for label in labels(page, top):
        here = f"{path} / {label}" if path else label
        click_tab(page, top, label)
        time.sleep(settle_s)
        check(here)
        seen.append(here)
        for bar in sub_bars(page, top):
            seen += walk(page, check, bar, settle_s, here)
    return seen
