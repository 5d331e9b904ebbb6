// Live sliders (demo/live.py): a slider's move asks /genlab/live for its pictures, one request per
// slider at a time, the newest value winning; the page applies the answer as an event's result.
// Errors show in a toast in the session's language (the server chose it).
(() => {
  const SKIP = [];  // an event that returns no values leaves its outputs as they are
  const sliders = {};
  const url = () => {
    const root = (window.gradio_config && window.gradio_config.root) || "";
    return root.replace(/\/$/, "") + "/genlab/live";
  };
  const file = (dataUrl) => ({ url: dataUrl, path: "live.png", orig_name: "live.png", mime_type: "image/png",
                               is_stream: false, meta: { _type: "gradio.FileData" } });
  const toast = (text) => {
    let box = document.getElementById("genlab-live-toast");
    if (box === null) {
      box = document.createElement("div");
      box.id = "genlab-live-toast";
      box.setAttribute("role", "alert");
      document.body.append(box);
    }
    box.textContent = text;
    box.classList.add("shown");
    clearTimeout(box.timer);
    box.timer = setTimeout(() => box.classList.remove("shown"), 6000);
  };
  // How many moves of a live slider were asked for, and whether one is in flight (genlabPlay waits on it).
  window.genlabLiveState = (key) => {
    const s = sliders[key];
    return s ? { seq: s.seq, busy: s.busy !== null } : { seq: 0, busy: false };
  };
  window.genlabLive = async (key, value, n) => {
    const s = sliders[key] || (sliders[key] = { seq: 0, busy: null });
    const mine = ++s.seq;
    while (s.busy !== null) {
      await s.busy;
      if (mine !== s.seq) return SKIP;  // a newer move came while waiting: it goes instead
    }
    let done;
    s.busy = new Promise((resolve) => { done = resolve; });
    try {
      const r = await fetch(url(), {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ session: window.__gradio_session_hash__, slider: key, value }),
      });
      const answer = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      if (!r.ok || answer.error) {
        toast(answer.error || `HTTP ${r.status}`);
        return SKIP;
      }
      if (answer.skip || !Array.isArray(answer.outputs)) return SKIP;
      if (answer.outputs.some((o) => o !== null && typeof o === "object" && o.skip)) {
        return SKIP;  // a handler that leaves an output as it is leaves them all (live handlers do)
      }
      const values = answer.outputs.map((o) => (o !== null && typeof o === "object" && o.url ? file(o.url) : o));
      return values.length === n ? values : SKIP;
    } catch (err) {
      toast(String(err));
      return SKIP;
    } finally {
      s.busy = null;
      done();
    }
  };
})();

// Moving a live slider from the page itself: `move` sets its range input and sends the input event a
// person's drag sends, so every move takes the slider's own live path (one request per slider in
// flight, the newest value winning; the answer applied as the event's result).
(() => {
  const range = (id) => document.querySelector(`#${id} input[type=range]`);
  const move = (input, value) => {
    input.value = String(value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Play / Pause (the diffusion scrubber): one step at a time, the next sent once the last answer is
  // in and at most `fps` a second, so a slow server slows the animation instead of queueing moves.
  // The page shows Pause while playing (body.playing-<id>, see style.css); it stops at the end.
  const players = {};
  const answered = async (key, before, ms) => {
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      const s = window.genlabLiveState(key);
      if (s.seq > before && !s.busy) return true;
      await sleep(15);
    }
    return false;
  };
  const stop = (id) => {
    const p = players[id];
    if (p) p.on = false;
    document.body.classList.remove(`playing-${id}`);
  };
  window.genlabPause = (id) => { stop(id); return []; };
  window.genlabPlay = (id, key, fps) => {
    const input = range(id);
    if (!input || input.disabled || (players[id] && players[id].on)) return [];
    const p = (players[id] = { on: true });
    document.body.classList.add(`playing-${id}`);
    (async () => {
      let first = true;
      while (p.on) {
        const el = range(id);
        if (!el || el.disabled) break;
        const [lo, hi, step] = [Number(el.min), Number(el.max), Number(el.step) || 1];
        let next = Number(el.value) + step;
        if (next > hi) {
          if (!first) break;  // at the end: stop there
          next = lo;          // Play at the end starts again
        }
        first = false;
        const t0 = performance.now(), before = window.genlabLiveState(key).seq;
        move(el, next);
        await answered(key, before, 5000);
        const left = 1000 / fps - (performance.now() - t0);
        if (left > 0) await sleep(left);
      }
      if (players[id] === p) stop(id);
    })();
    return [];
  };

  // Decode on hover or drag over a picture (the VAE's 2-D latent map): the pointer's place in the
  // picture, as a fraction of its width and height in thousandths, goes into a hidden live slider
  // (value = 1000 x + y). A move is sent at most every HOVER_MS and only when that place changed;
  // the live path keeps one request in flight per picture and drops the stale ones.
  const HOVER_MS = 80;
  const targets = { "vae-map-grid": "vae-map-hover-grid", "vae-map-scatter": "vae-map-hover-scatter" };  // picture -> slider
  window.genlabHover = (picture, slider) => { targets[picture] = slider; };
  const spot = (img, event) => {
    // The picture is drawn "contain" in the img box: find where inside that box it lies.
    const box = img.getBoundingClientRect(), nw = img.naturalWidth, nh = img.naturalHeight;
    if (!nw || !nh || !box.width || !box.height) return null;
    const scale = Math.min(box.width / nw, box.height / nh);
    const x = (event.clientX - box.left - (box.width - nw * scale) / 2) / (nw * scale);
    const y = (event.clientY - box.top - (box.height - nh * scale) / 2) / (nh * scale);
    if (x < 0 || x >= 1 || y < 0 || y >= 1) return null;
    return Math.floor(x * 1000) * 1000 + Math.floor(y * 1000);
  };
  // A drag over the picture must not start the browser's own drag of the image.
  document.addEventListener("dragstart", (event) => {
    const img = event.target instanceof HTMLImageElement ? event.target : null;
    if (img && Object.keys(targets).some((id) => img.closest(`#${id}`))) event.preventDefault();
  });
  const hover = {};
  document.addEventListener("pointermove", (event) => {
    if (event.pointerType === "touch") return;  // a finger scrolls the page; a tap still clicks
    const img = event.target instanceof HTMLImageElement ? event.target : null;
    const holder = img && img.closest("[id]");
    const picture = holder && Object.keys(targets).find((id) => img.closest(`#${id}`));
    if (!picture) return;
    const value = spot(img, event);
    const h = hover[picture] || (hover[picture] = { last: null, sent: 0, timer: null, pending: null });
    if (value === null || value === h.last) return;
    h.pending = value;
    const send = () => {
      h.timer = null;
      const input = range(targets[picture]);
      if (!input || h.pending === null || h.pending === h.last) return;
      h.last = h.pending;
      h.sent = performance.now();
      move(input, h.pending);
    };
    const wait = HOVER_MS - (performance.now() - h.sent);
    if (wait <= 0) send();
    else if (h.timer === null) h.timer = setTimeout(send, wait);
  }, { passive: true });
})();
