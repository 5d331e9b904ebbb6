"""A class on one app: 30 slider sessions, 5 trainers and 2 long runs against one launched app.

    python -m benchmarks.class_burst [--quick] [--sliders 30] [--moves 20] [--trainers 5] [--note "..."]

Every session speaks the page's own protocol, all of them from one asyncio loop with plain HTTP
(httpx), so the load generator stays light: its own CPU time is reported. Events go through
Gradio's queue as the page sends them (join, the server-sent event stream, then each returned
image fetched as an <img> does); a live slider's move is one POST to /genlab/live (demo/live.py),
whose answer carries its pictures.

- Slider sessions (a third each: a VAE latent slider, the GAN tab's truncation psi, the diffusion
  tab's forward t) first open the page: the page's load events and what they chain, with the
  widgets' starting values, as a browser sends them (untimed: the class opens the page, then
  drags). Once every session has, each starts within 2 s and moves its slider about 3 times a
  second (`--moves` moves); a VAE session ends its drag with the slider's release event (the
  prior plot), as the page does. Like the page (demo/live.js), a move made while the previous one
  is still out waits for it, and only the newest of such moves is sent. Latency per move sent:
  from the move to its answer (`move_to_picture`), and from the request to its answer (`event`);
  moves that a newer one replaced are counted.
- Trainers start a tiny VAE or DDPM run in the Train tab and poll it once a second, as the page's
  timer does; the app runs with GENLAB_MAX_JOBS=5 so all five train at once (the CPU default is
  one at a time). Each reports the images/s the tab showed.
- Long runs: a DDPM-1000 on mnist-ddpm (the diffusion tab's Generate) and a CLIP generation,
  each to its end.

Prints one JSON object: every error, latency percentiles overall and per slider kind and per
session, trainers' images/s, the long runs' times, the app's start time and memory, the compute
thread's task counts, the load generator's CPU time, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid

import httpx
import numpy as np

from benchmarks.common import data_dir, emit, file_urls, percentiles
from engines import runtime
from tests.launch import launched_app, rss_bytes

VAE_MODEL, GAN_MODEL, DDPM_MODEL = "mnist-vae-z16", "faces-stylegan", "mnist-ddpm"
SLIDER_KINDS = ("vae_slider", "gan_truncation_psi", "diffusion_forward")
# The Train tab's recipe by field; train_start takes them in studio.RECIPE_FIELDS order.
TRAIN_RUNS = [{"family": "vae", "dataset": "mnist", "size": "tiny", "steps": 400, "batch_size": 32, "lr": 0.002,
               "beta": 1.0, "latent_dim": 16, "p_uncond": 0.1, "r1_gamma": 1.0, "n_images": 2000, "seed": 0,
               "preview_every": 50, "fast": False},
              {"family": "ddpm", "dataset": "mnist", "size": "tiny", "steps": 150, "batch_size": 32, "lr": 0.001,
               "beta": 1.0, "latent_dim": 16, "p_uncond": 0.1, "r1_gamma": 1.0, "n_images": 2000, "seed": 0,
               "preview_every": 20, "fast": False}]
DONE_WORDS = ("finished", "stopped", "limit", "failed", "⚠")


class Failed(Exception):
    """An event the server answered with an error (or not at all)."""


class Page:
    """One browser session: Gradio's sse_v3 queue protocol over a shared HTTP connection pool."""

    def __init__(self, http: httpx.AsyncClient, app: dict):
        self.http, self.app = http, app
        self.session = uuid.uuid4().hex[:11]
        self.values = dict(app["values"])  # this page's widget values, by component id

    async def event(self, api_name: str, *values, on_frame=None) -> list:
        """One event -> its output data; every file it returns is fetched. `on_frame(output)` sees
        each streamed output of a generator event."""
        dep = self.app["deps"][api_name]
        it = iter(values)
        data = [None if self.app["kinds"][i] == "state" else next(it) for i in dep["inputs"]]
        return await self.send(dep, data, on_frame=on_frame)

    def _set(self, elem_id: str, value) -> list:
        """A value the page's own script sets (no server call) -> the events its change triggers."""
        return self._set_id(self.app["ids"].get(elem_id), value)

    def _set_id(self, comp, value) -> list:
        if comp is None or self.values.get(comp) == value:
            return []
        self.values[comp] = value
        return [d for d in self.app["all_deps"] if d["backend_fn"] and [comp, "change"] in map(list, d["targets"])]

    async def open(self, tabs: tuple = ()) -> None:
        """What a browser does when the page opens: every load event with the widgets' values (the
        page's own sets the flag the first tab's first refresh starts on), then the first selection
        of each tab in `tabs` (that tab's first refresh); and the events each of those chains
        (.then) or changes (a value an output changed), each one's outputs setting the widgets it names."""
        todo = [d for d in self.app["all_deps"] if d["backend_fn"] and any(t[1] == "load" for t in d["targets"])]
        for tab in tabs:
            todo += self._set(f"{tab}-opened", 1)
        while todo:
            dep = todo.pop(0)
            data = [None if self.app["kinds"][i] == "state" else self.values.get(i) for i in dep["inputs"]]
            out = await self.send(dep, data)
            for comp, value in zip(dep["outputs"], out):
                if isinstance(value, dict) and value.get("__type__") == "update":
                    if "value" not in value:
                        continue
                    value = value["value"]
                todo += self._set_id(comp, value)  # a value that changes runs its change events, as in the page
            todo += [d for d in self.app["all_deps"] if d["backend_fn"] and d.get("trigger_after") == dep["id"]]

    async def type_in(self, elem_id: str, value, trigger: str = "submit") -> None:
        """Type `value` into a widget and press Enter: its events run with the page's values."""
        comp = self.app["ids"][elem_id]
        self.values[comp] = value
        for dep in self.app["all_deps"]:
            if dep["backend_fn"] and [comp, trigger] in [list(t) for t in dep["targets"]]:
                data = [None if self.app["kinds"][i] == "state" else self.values.get(i) for i in dep["inputs"]]
                await self.send(dep, data)

    async def release(self, elem_id: str, value) -> None:
        """The slider's release events (the page sends them once a drag ends)."""
        comp = self.app["ids"][elem_id]
        for dep in self.app["all_deps"]:
            if dep["backend_fn"] and [comp, "release"] in [list(t) for t in dep["targets"]]:
                data = [value if i == comp else None if self.app["kinds"][i] == "state" else self.values.get(i)
                        for i in dep["inputs"]]
                await self.send(dep, data)

    async def live(self, elem_id: str, value) -> dict:
        """One live slider move, as demo/live.js sends it -> the answer (its pictures inline)."""
        body = {"session": self.session, "slider": str(self.app["ids"][elem_id]), "value": value}
        r = await self.post(self.app["root"] + "/genlab/live", body)
        if r.status_code != 200:
            raise Failed(f"live {elem_id}: HTTP {r.status_code}: {r.text[:200]}")
        answer = r.json()
        answer["_timing"] = parse_server_timing(r.headers.get("server-timing", ""))
        if "outputs" not in answer or any(isinstance(o, dict) and o.get("skip") for o in answer["outputs"]):
            raise Failed(f"live {elem_id}: no picture: {str(answer)[:200]}")
        return answer

    async def send(self, dep: dict, data: list, on_frame=None) -> list:
        api_name = dep.get("api_name")
        join = {"data": data, "event_data": None, "fn_index": dep["id"], "trigger_id": None,
                "session_hash": self.session}
        api = self.app["api"]
        r = await self.post(f"{api}/queue/join", join)
        if r.status_code != 200:
            raise Failed(f"{api_name}: join HTTP {r.status_code}: {r.text[:200]}")
        async with self.http.stream("GET", f"{api}/queue/data", params={"session_hash": self.session}) as r:
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                kind = msg.get("msg")
                if kind == "process_generating" and on_frame is not None:
                    on_frame(msg.get("output", {}))
                if kind == "process_completed":
                    if not msg.get("success"):
                        raise Failed(f"{api_name}: {str(msg.get('output'))[:300]}")
                    output = msg["output"]["data"]
                    for url in file_urls(output):
                        await self.fetch(url)
                    return output
                if kind in ("unexpected_error", "queue_full"):
                    raise Failed(f"{api_name}: {msg}")
        raise Failed(f"{api_name}: the stream ended without a result")


    async def post(self, url: str, body: dict) -> httpx.Response:
        """POST as a browser does: once more when the server had just closed the kept-alive
        connection it was sent on (Chromium resends any request that failed so on a reused
        socket before a byte of the answer came)."""
        try:
            return await self.http.post(url, json=body)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            return await self.http.post(url, json=body)

    async def fetch(self, url: str) -> None:
        """GET a file as an <img> does; like a browser, once more when the server had just closed
        the kept-alive connection (uvicorn closes one idle for 5 s)."""
        try:
            (await self.http.get(url)).raise_for_status()
        except httpx.RemoteProtocolError:
            (await self.http.get(url)).raise_for_status()


async def app_info(http: httpx.AsyncClient, url: str) -> dict:
    config = (await http.get(f"{url.rstrip('/')}/config")).json()
    return {"api": url.rstrip("/") + config.get("api_prefix", "/gradio_api"), "root": url.rstrip("/"),
            "kinds": {c["id"]: c["type"] for c in config["components"]},
            "values": {c["id"]: c.get("props", {}).get("value") for c in config["components"]},
            "ids": {c["props"]["elem_id"]: c["id"] for c in config["components"] if c.get("props", {}).get("elem_id")},
            "all_deps": config["dependencies"],
            "deps": {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}}


# --- the sessions --------------------------------------------------------------------------------

# kind -> (the slider's elem_id, its range, the widget's value step)
SLIDERS = {"vae_slider": ("vae-slider-{k}", (-3.0, 3.0), 0.05),
           "gan_truncation_psi": ("gan-trunc-psi", (-1.0, 1.5), 0.05),
           "diffusion_forward": ("diffusion-fwd-t", (0, 1000), 1)}


# kind -> the tabs a student opens before moving it (the first tab, the Overview, starts with the page)
SLIDER_TABS = {"vae_slider": ("vae-tab",), "gan_truncation_psi": ("gan-tab",), "diffusion_forward": ("diffusion-tab",)}


def slider_move(kind: str, i: int, rng: random.Random):
    """-> (elem_id, value) of a session's next move: a value on the slider's own grid, as a drag sends."""
    elem_id, (low, high), step = SLIDERS[kind]
    value = low + step * rng.randint(0, round((high - low) / step))
    return elem_id.format(k=i % 16), (int(value) if isinstance(step, int) else round(value, 2))


class Opened:
    """The class has opened the page (untimed: a one-off cost, each page's load events, that a class
    pays as students arrive, not while they drag); `go` is set once the trainers and long runs are
    under way too, and the sliders start moving."""

    def __init__(self, sessions: int):
        self.left = sessions
        self.all = asyncio.Event()
        self.go = asyncio.Event()

    def one(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.all.set()


async def slider_session(page: Page, i: int, kind: str, moves: int, rate: float, rng: random.Random,
                         out: dict, errors: list, opened: Opened, own_seeds: bool = False) -> None:
    try:
        try:
            await page.open(SLIDER_TABS[kind])
            if own_seeds and kind == "gan_truncation_psi":
                await page.type_in("gan-trunc-seeds", ", ".join(str(100 + 6 * i + j) for j in range(6)))
            elif own_seeds and kind == "diffusion_forward":
                await page.type_in("diffusion-fwd-seed", 100 + i)
        finally:
            opened.one()
        await opened.go.wait()
        await asyncio.sleep(rng.uniform(0, 2))
        first = time.perf_counter()
        sent = superseded = 0
        k = 0
        elem_id, value = slider_move(kind, i, rng)
        while k < moves:
            # The moves made by now (a person dragging at `rate` a second); all but the newest of
            # those made while the last request was out are replaced, as demo/live.js does.
            due = first + k / rate
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            made = max(k, min(moves - 1, int((time.perf_counter() - first) * rate)))
            superseded += made - k
            k = made
            elem_id, value = slider_move(kind, i, rng)
            moved_at = first + k / rate
            sent_at = time.perf_counter()
            answer = await page.live(elem_id, value)
            done = time.perf_counter()
            out["server"].append((kind, i, answer["_timing"]))
            out["move"].append((kind, i, done - min(moved_at, sent_at)))
            out["event"].append((kind, i, done - sent_at))
            sent += 1
            k += 1
        await page.release(elem_id, value)  # the drag ends
        out["sent"] += sent
        out["superseded"] += superseded
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
        errors.append(f"slider session {i} ({kind}): {type(exc).__name__}: {str(exc)[:300]}")


def _ips(stats: str) -> float | None:
    try:
        return float(stats.split("\n")[-1].split("|")[2].strip().replace(",", ""))
    except (IndexError, ValueError, AttributeError):
        return None


async def trainer_session(page: Page, i: int, families: list, runs: list, errors: list) -> None:
    from engines import studio

    run = dict(next(r for r in TRAIN_RUNS if r["family"] == families[i % len(families)]))
    run["seed"] = i
    if not data_dir():
        run["dataset"] = "shapes"
    defaults = {k.name: k.default for k in studio.KNOBS}  # other families' own settings, as declared
    settings = [{**defaults, **run}[f] for f in studio.RECIPE_FIELDS]
    try:
        t0 = time.perf_counter()
        out = await page.event("train_start", None, *settings)
        status, started, seen_ips = out[1], None, []
        while True:
            status, stats, *_ = await page.event("train_poll")
            if started is None and "Training" in status:
                started = time.perf_counter()
            if "Training" in status and (ips := _ips(stats)):
                seen_ips.append(ips)
            if any(w in status for w in DONE_WORDS):
                break
            if time.perf_counter() - t0 > 900:
                errors.append(f"trainer {i}: not finished after 900 s: {status}")
                return
            await asyncio.sleep(1.0)
        end = time.perf_counter()
        if "finished" not in status:
            errors.append(f"trainer {i}: {status}")
        _say(f"trainer {i} ended at {end - t0:.1f} s: {status[:60]}")
        runs.append({"session": i, "family": run["family"], "steps": run["steps"], "batch": run["batch_size"],
                     "trained_from": started or end, "trained_to": end,
                     "wait_s": round((started or end) - t0, 1), "run_s": round(end - (started or end), 1),
                     "images_per_s_shown_while_running": [round(v) for v in seen_ips],
                     "images_per_s_shown_at_end": _ips(stats)})
    except Exception as exc:  # noqa: BLE001
        errors.append(f"trainer {i}: {type(exc).__name__}: {str(exc)[:300]}")


async def long_run(page: Page, which: str, runs: list, errors: list, ddpm_batch: int, clip_steps: int) -> None:
    frames = [0]
    first = [None]
    t0 = time.perf_counter()

    def on_frame(_):
        frames[0] += 1
        first[0] = first[0] or time.perf_counter() - t0
    try:
        if which == "ddpm":
            # model, batch, seed, sampler, steps, eta, label, guidance
            out = await page.event("diffusion_generate", DDPM_MODEL, ddpm_batch, 0, "ddpm", 1000, 0.0, "all", 0.0,
                                   on_frame=on_frame)
            said = out[1]
        else:
            # prompt, negative, backend, generator, steps, strength, seed, augment, label, size, per_layer, candidates
            out = await page.event("clip_generate", "a red circle in the centre", "", "genlab", "pixels", clip_steps,
                                   1.0, 0, 4, "none", 64, False, 1, on_frame=on_frame)
            said = out[1]
        _say(f"long run {which} done in {time.perf_counter() - t0:.1f} s")
        runs.append({"run": which, "done_s": round(time.perf_counter() - t0, 1),
                     "first_frame_s": round(first[0], 2) if first[0] else None, "frames": frames[0],
                     "status": str(said)[:160]})
    except Exception as exc:  # noqa: BLE001
        errors.append(f"long run {which}: {type(exc).__name__}: {str(exc)[:300]}")


# --- the burst -----------------------------------------------------------------------------------

async def burst(url: str, args) -> dict:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600, connect=30), limits=limits) as http:
        app = await app_info(http, url)
        # Warm-up: one page opened and each kind moved once, so the burst measures serving, not
        # first model loads.
        warm = Page(http, app)
        await warm.open(tuple({t for tabs in SLIDER_TABS.values() for t in tabs}))
        for kind in args.kinds:
            await warm.live(*slider_move(kind, 0, random.Random(0)))
        errors: list = []
        lat = {"move": [], "event": [], "server": [], "sent": 0, "superseded": 0}
        trainer_runs, long_runs = [], []
        rng = random.Random(0)
        tasks = []
        t0 = time.perf_counter()
        # The class opens the page first; then the trainers and long runs start, and `lead` s later,
        # with all of them under way, the sliders move.
        opened = Opened(args.sliders)
        sliders = [asyncio.create_task(slider_session(Page(http, app), i, args.kinds[i % len(args.kinds)], args.moves,
                                                      args.rate,
                                                      random.Random(rng.random()), lat, errors, opened,
                                                      args.own_seeds))
                   for i in range(args.sliders)]
        await opened.all.wait()
        opened_s = time.perf_counter() - t0
        _say(f"the class opened the page in {opened_s:.1f} s")
        for i in range(args.trainers):
            tasks.append(asyncio.create_task(trainer_session(Page(http, app), i, args.families, trainer_runs, errors)))
        for which in args.long:
            tasks.append(asyncio.create_task(long_run(Page(http, app), which, long_runs, errors,
                                                      args.ddpm_batch, args.clip_steps)))
        await asyncio.sleep(args.lead)  # the trainers and long runs get going first
        _say(f"sliders start at {time.perf_counter() - t0:.1f} s")
        opened.go.set()
        moves_from, cpu_from = time.perf_counter(), _cpu(args.app_pid)
        await asyncio.gather(*sliders)
        sliders_done = time.perf_counter() - t0
        moves_to = time.perf_counter()
        moving = {"wall_s": round(moves_to - moves_from, 1), "app_cpu_s": round(_cpu(args.app_pid) - cpu_from, 1)}
        _say(f"sliders done at {sliders_done:.1f} s; waiting for the trainers and long runs")
        await asyncio.gather(*tasks)
        total = time.perf_counter() - t0
        for r in trainer_runs:  # did it train the whole time the sliders moved?
            r["trained_through_the_moves"] = r.pop("trained_from") <= moves_from and r.pop("trained_to") >= moves_to
    return {"errors": errors, "lat": lat, "trainers": trainer_runs, "long_runs": long_runs,
            "sliders_done_s": sliders_done, "total_s": total, "moving": moving,
            "opened_s": opened_s}


def _say(text: str) -> None:
    print(f"[class_burst] {text}", file=sys.stderr, flush=True)


def parse_server_timing(header: str) -> dict:
    """'queue;dur=12.5, run;dur=3.1' -> {"queue": 12.5, "run": 3.1} (ms)."""
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        try:
            out[name] = float(dur)
        except ValueError:
            continue
    return out


def server_parts(samples) -> dict:
    """Where the server's time went, per part (demo/live.py's Server-Timing): p50 / p95 ms over the
    moves, a kept answer counting 0 for the parts it skipped, and the share of moves it answered."""
    parts = ("prepare", "thread", "queue", "run", "encode", "total")
    out = {}
    for kind in ("all", *SLIDER_KINDS):
        mine = [tm for k, _, tm in samples if kind in ("all", k)]
        if mine:
            out[kind] = {p: percentiles([tm.get(p, 0.0) / 1e3 for tm in mine]) for p in parts}
            out[kind]["kept_share"] = round(sum("run" not in tm for tm in mine) / len(mine), 3)
    return out


def summarise(samples) -> dict:
    out = {"all": percentiles([s for _, _, s in samples])}
    for kind in SLIDER_KINDS:
        mine = [s for k, _, s in samples if k == kind]
        if mine:
            out[kind] = percentiles(mine)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 sliders x 8 moves, 1 trainer, a 10-step CLIP run")
    parser.add_argument("--sliders", type=int, default=30)
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--rate", type=float, default=3.0, help="slider moves a second per session")
    parser.add_argument("--trainers", type=int, default=5)
    parser.add_argument("--own-seeds", action="store_true",
                        help="each GAN / diffusion session types its own seeds first, so no two sessions ask for the "
                             "same picture (the app's shared answer cache, demo/live.py, then serves no one else)")
    parser.add_argument("--kinds", default=",".join(SLIDER_KINDS), help="slider kinds, taken in turn by the sessions")
    parser.add_argument("--families", default="vae,ddpm", help="trainers' model families, taken in turn")
    parser.add_argument("--long", default="ddpm,clip", help="long runs: ddpm, clip (comma-separated; '' for none)")
    parser.add_argument("--ddpm-batch", type=int, default=1, help="images in the DDPM-1000 run")
    parser.add_argument("--clip-steps", type=int, default=60)
    parser.add_argument("--lead", type=float, default=8.0, help="s the trainers and long runs run before the sliders")
    parser.add_argument("--settle", type=float, default=20.0, help="s the app idles after start before RSS is read")
    parser.add_argument("--note", default="", help="what else was running on the machine")
    args = parser.parse_args(argv)
    args.long = [w for w in args.long.split(",") if w]
    args.kinds = [k for k in args.kinds.split(",") if k]
    args.families = [f for f in args.families.split(",") if f]
    if args.quick:
        args.sliders, args.moves, args.trainers, args.clip_steps, args.long, args.lead = 6, 8, 1, 10, ["clip"], 4.0
        args.settle = 5.0

    extra = ["--lang", "en"] + (["--data-dir", data_dir()] if data_dir() else [])
    env = {"GENLAB_MAX_JOBS": str(max(1, args.trainers))}
    load_before = os.getloadavg()
    cpu0 = time.process_time()
    with launched_app(*extra, timeout=180, env=env) as (url, proc, serving_s):
        rss_serving = rss_bytes(proc.pid)
        time.sleep(args.settle)  # the app's warm-up imports (app.WARM_IMPORTS) finish; then it idles
        rss_cold = rss_bytes(proc.pid)
        cpu_app0 = _cpu(proc.pid)
        args.app_pid = proc.pid
        result = asyncio.run(burst(url, args))
        rss_after = rss_bytes(proc.pid)
        cpu_app = _cpu(proc.pid) - cpu_app0
    gen_cpu = time.process_time() - cpu0
    lat = result["lat"]
    p95 = percentiles([s for _, _, s in lat["move"]])["p95_ms"] if lat["move"] else None
    per_session = {}
    for kind, i, s in lat["move"]:
        per_session.setdefault(i, [kind, []])[1].append(s)
    ips = [r["images_per_s_shown_while_running"] for r in result["trainers"]]
    return {
        "benchmark": "class_burst",
        "hardware": runtime.hardware_summary(),
        "note": args.note or None,
        "load_average_1_5_15": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in os.getloadavg()]},
        "sessions": {"sliders": args.sliders, "moves_each": args.moves, "moves_per_s": args.rate,
                     "slider_kinds": args.kinds, "trainers": args.trainers, "trainer_families": args.families, "long_runs": args.long,
                     "ddpm_batch": args.ddpm_batch, "clip_steps": args.clip_steps, "lead_s": args.lead,
                     "slider_protocol": "page open (load events), then POST /genlab/live per move, release at the end",
                     "own_seeds": args.own_seeds},
        "errors": result["errors"],
        "slider_move_to_picture_ms": summarise(lat["move"]),
        "slider_event_round_trip_ms": summarise(lat["event"]),
        "slider_server_ms": server_parts(lat["server"]),
        "slider_per_session_ms": {i: {"kind": k, **percentiles(v)} for i, (k, v) in sorted(per_session.items())},
        "slider_moves_sent": lat["sent"], "slider_moves_superseded": lat["superseded"],
        # From the moment the whole class had opened the page to the last move answered: the app's
        # CPU time (all its threads) over that wall time, and per move sent (trainers and long runs
        # included when they run).
        "while_moving": {**result["moving"], "app_cpu_ms_per_move": round(
            1000 * result["moving"]["app_cpu_s"] / max(lat["sent"], 1), 1)},
        "trainers": sorted(result["trainers"], key=lambda r: r["session"]),
        "trainer_images_per_s_median_while_sliding": [round(float(np.median(v))) if v else None for v in ips],
        "long_runs": result["long_runs"],
        "class_opened_page_after_s": round(result["opened_s"], 1),
        "sliders_done_after_s": round(result["sliders_done_s"], 1),
        "all_done_after_s": round(result["total_s"], 1),
        "app": {"serving_after_s": round(serving_s, 2), "rss_mb_when_serving": round(rss_serving / 2**20),
                "rss_mb_idle": round(rss_cold / 2**20), "idle_after_s": args.settle,
                "rss_mb_after": round(rss_after / 2**20), "cpu_s_during_burst": round(cpu_app, 1)},
        "load_generator_cpu_s": round(gen_cpu, 2),
        "load_generator_cpu_share_of_wall": round(gen_cpu / max(result["total_s"], 1e-9), 3),
        "targets": {"zero_errors": not result["errors"],
                    "slider_p95_ms<=400": p95 is not None and p95 <= 400,
                    "long_runs_finished": len(result["long_runs"]) == len(args.long),
                    "cold_start<=10s": serving_s <= 10, "idle_rss<=1GB": rss_cold <= 2**30},
        "date": time.strftime("%Y-%m-%d"),
    }


def _cpu(pid: int) -> float:
    import psutil

    p = psutil.Process(pid)
    return sum(sum(q.cpu_times()[:2]) for q in [p, *p.children(recursive=True)])


if __name__ == "__main__":
    emit(main())
