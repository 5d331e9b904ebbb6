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
