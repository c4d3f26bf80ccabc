// The environment board's view (lambdalab/jupyter/board.py): one tile per environment, coloured by its phase.
// Deltas from the kernel queue up and are applied together in one requestAnimationFrame; the root's
// data-frames counts the frames that changed tiles, data-tiles the tiles shown.

const NAMES = {
  init: "initializing",
  invoke: "invoking",
  frozen: "frozen",
  idle: "idle",
  restore: "restoring",
  shutdown: "shutting down",
  wait: "waiting",
};

function seconds(s) {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "lambdalab-board";
  root.dataset.frames = "0";
  root.dataset.tiles = "0";
  const head = document.createElement("div");
  head.className = "lambdalab-board-head";
  const counts = document.createElement("span");
  counts.className = "lambdalab-board-counts";
  const legend = document.createElement("span");
  legend.className = "lambdalab-board-legend";
  head.append(counts, legend);
  const grid = document.createElement("div");
  grid.className = "lambdalab-board-grid";
  root.append(head, grid);
  el.append(root);

  let colours = model.get("colours") || {};
  let phases = model.get("phases") || [];
  let states = model.get("states") || [];
  const swatches = new Map(); // phase -> count element in the legend
  function drawLegend() {
    legend.replaceChildren();
    swatches.clear();
    for (const phase of Object.keys(colours)) {
      if (phase === "wait") continue; // a result card's segment, never an environment's state
      const item = document.createElement("span");
      item.className = "lambdalab-board-key";
      item.dataset.state = phase;
      const dot = document.createElement("i");
      dot.style.backgroundColor = colours[phase];
      const label = document.createElement("span");
      label.textContent = NAMES[phase] || phase;
      const n = document.createElement("b");
      n.textContent = "0";
      item.append(dot, label, n);
      legend.append(item);
      swatches.set(phase, n);
    }
  }
  drawLegend();

  const tiles = new Map(); // key -> {el, env, version, born, since, phase, state, rid, inv}
  let queue = [];
  let frame = 0;
  let frames = 0;

  function name(value, list) {
    return typeof value === "number" ? list[value] : value;
  }

  function title(t, now) {
    const phase = NAMES[t.phase] || t.phase;
    const state = t.state.replace("_", " ");
    let doing = `${phase} for ${seconds(Math.max(0, now - t.since) / 1000)}`;
    if (state && state !== phase) doing += ` (state: ${state})`;
    const lines = [`environment ${t.env}`, doing];
    if (t.rid) lines.push(`${t.phase === "init" ? "initialising for request" : "request"} ${t.rid}`);
    const runs = `${t.inv} invocation${t.inv === 1 ? "" : "s"}`;
    lines.push(`age ${seconds(Math.max(0, now - t.born) / 1000)} · ${runs} · version ${t.version}`);
    return lines.join("\n");
  }

  function apply(delta, at) {
    let changed = 0;
    if (delta.full) {
      const keep = new Set(delta.add.map((a) => a[0]));
      for (const [key, t] of tiles) {
        if (!keep.has(key)) {
          t.el.remove();
          tiles.delete(key);
          changed++;
        }
      }
    }
    for (const [key, env, version, age] of delta.add) {
      let t = tiles.get(key);
      if (!t) {
        const tile = document.createElement("div");
        tile.className = "lambdalab-tile";
        tile.dataset.env = env;
        t = { el: tile, env, version, born: at - age * 1000, since: at, phase: "", state: "", rid: 0, inv: 0 };
        tiles.set(key, t);
        grid.append(tile);
        changed++;
      } else {
        t.born = at - age * 1000;
      }
    }
    for (const [key, phase, state, rid, since, inv] of delta.set) {
      const t = tiles.get(key);
      if (!t) continue;
      const p = name(phase, phases);
      if (p !== t.phase) {
        t.phase = p;
        t.el.dataset.state = p;
        t.el.style.backgroundColor = colours[p] || "";
      }
      t.state = name(state, states);
      t.rid = rid;
      t.since = at - since * 1000;
      t.inv = inv;
      t.el.title = title(t, at);
      changed++;
    }
    for (const key of delta.drop) {
      const t = tiles.get(key);
      if (t) {
        t.el.remove();
        tiles.delete(key);
        changed++;
      }
    }
    return changed;
  }

  function count() {
    const by = {};
    for (const t of tiles.values()) by[t.phase] = (by[t.phase] || 0) + 1;
    for (const [phase, n] of swatches) n.textContent = String(by[phase] || 0);
    const live = model.get("live");
    const error = model.get("error");
    counts.textContent = `${model.get("function")} · ${tiles.size} environment${tiles.size === 1 ? "" : "s"}` +
      (error ? ` · ${live ? "" : "stopped: "}${error}` : live ? "" : " · paused");
    root.dataset.tiles = String(tiles.size);
  }

  function flush() {
    frame = 0;
    const batch = queue;
    queue = [];
    let changed = 0;
    for (const [delta, at] of batch) changed += apply(delta, at);
    if (changed) {
      frames++;
      root.dataset.frames = String(frames);
    }
    count();
  }

  function enqueue(delta) {
    if (!delta || !delta.seq) return;
    queue.push([delta, performance.now()]);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  const onDelta = () => enqueue(model.get("delta"));
  const onStatus = () => {
    if (!frame) frame = requestAnimationFrame(flush);
  };
  const onColours = () => {
    colours = model.get("colours") || {};
    phases = model.get("phases") || [];
    states = model.get("states") || [];
    drawLegend();
    for (const t of tiles.values()) t.el.style.backgroundColor = colours[t.phase] || "";
    onStatus();
  };
  // hovering shows the age and time in phase as of now, not as of the last change
  const onOver = (event) => {
    const target = event.target;
    if (!(target instanceof HTMLElement) || !target.classList.contains("lambdalab-tile")) return;
    for (const t of tiles.values()) {
      if (t.el === target) {
        t.el.title = title(t, performance.now());
        break;
      }
    }
  };
  const ages = setInterval(() => {
    const now = performance.now();
    for (const t of tiles.values()) t.el.title = title(t, now);
  }, 1000);

  model.on("change:delta", onDelta);
  model.on("change:live change:error change:function", onStatus);
  model.on("change:colours change:phases change:states", onColours);
  grid.addEventListener("pointerover", onOver);
  const first = model.get("delta");
  if (first && first.full) enqueue(first); // saved state (no kernel), or a board already stopped
  else onStatus();
  model.send({ type: "sync" }); // every tile as of now; live deltas follow

  return () => {
    model.off("change:delta", onDelta);
    model.off("change:live change:error change:function", onStatus);
    model.off("change:colours change:phases change:states", onColours);
    grid.removeEventListener("pointerover", onOver);
    clearInterval(ages);
    if (frame) cancelAnimationFrame(frame);
  };
}

export default { render };
