// The EdgeSplit dashboard: draws the frames the coordinator streams at /events (see DashboardFrame.cs).
// Plain DOM and uPlot; nothing here changes the cluster.
"use strict";
(() => {
  const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"];
  const maxPoints = 1200;
  const state = {
    generation: -1, layout: null, colors: new Map(), markers: [], markerKeys: new Set(),
    lastSequence: -1, lastFailed: null, lastTime: null, planKey: null, switchKey: null, frames: 0,
    decisions: [], lastDecision: 0, decisionsDrawn: null,
  };
  const $ = id => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "style") Object.assign(node.style, v);
      else if (k === "data") Object.assign(node.dataset, v);
      else if (v !== undefined && v !== null) node[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  const colorOf = device => {
    if (!state.colors.has(device)) state.colors.set(device, palette[state.colors.size % palette.length]);
    return state.colors.get(device);
  };
  const dash = "\u2013";
  const fixed = (v, d) => v === null || v === undefined || !isFinite(v) ? dash : v.toFixed(d);
  const ms = v => v === null || v === undefined ? dash : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
  const pct = v => v === null || v === undefined ? dash : (v * 100).toFixed(0) + " %";
  const bytes = b => {
    if (b === null || b === undefined) return dash;
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (b >= 1000 && i < units.length - 1) { b /= 1000; i++; }
    return (i === 0 ? b.toFixed(0) : b.toFixed(b < 10 ? 2 : 1)) + " " + units[i];
  };
  const mbit = bps => bps === null || bps === undefined ? "not measured" : (bps * 8 / 1e6).toFixed(bps * 8 / 1e6 < 10 ? 2 : 1) + " Mbit/s";
  const clock = t => new Date(t).toLocaleTimeString([], { hour12: false });

  // ---- charts (uPlot) ----
  function markersHook(u) {
    const ctx = u.ctx, { left, top, width, height } = u.bbox, dpr = devicePixelRatio || 1;
    ctx.save();
    ctx.beginPath(); ctx.rect(left, top, width, height); ctx.clip();
    ctx.setLineDash([4 * dpr, 3 * dpr]); ctx.lineWidth = dpr; ctx.font = `${10 * dpr}px system-ui, sans-serif`;
    for (const m of state.markers) {
      const x = u.valToPos(m.t, "x", true);
      if (!(x >= left && x <= left + width)) continue;
      ctx.strokeStyle = m.color; ctx.fillStyle = m.color;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
      ctx.fillText(m.text, x + 3 * dpr, top + 11 * dpr);
    }
    ctx.restore();
  }

  function chart(id, series, yLabel) {
    const target = $(id);
    const data = [[], ...series.map(() => [])];
    const plot = new uPlot({
      width: Math.max(300, target.clientWidth), height: 200,
      scales: { x: { time: true } },
      series: [{}, ...series.map(s => ({ spanGaps: true, width: 2, points: { show: false }, ...s }))],
      axes: [{}, { label: yLabel, size: 60 }],
      hooks: { draw: [markersHook] },
    }, data, target);
    return { plot, data, target };
  }

  const charts = {};
  function makeCharts() {
    charts.latency = chart("latency-chart", [{ label: "p50 ms", stroke: "#4e79a7" }, { label: "p95 ms", stroke: "#e15759" }], "ms");
    charts.rate = chart("rate-chart", [{ label: "frames/s", stroke: "#59a14f" }, { label: "failed/s", stroke: "#c0392b" }], "per second");
    charts.energy = chart("energy-chart", [{ label: "J/frame (estimated)", stroke: "#b07aa1" }], "J");
    window.addEventListener("resize", () => {
      for (const c of Object.values(charts)) c.plot.setSize({ width: Math.max(300, c.target.clientWidth), height: 200 });
    });
  }

  function push(c, x, values) {
    c.data[0].push(x);
    values.forEach((v, i) => c.data[i + 1].push(v === undefined ? null : v));
    if (c.data[0].length > maxPoints) for (const column of c.data) column.splice(0, column.length - maxPoints);
    c.plot.setData(c.data);
  }

  function marker(key, t, text, color) {
    if (state.markerKeys.has(key)) return;
    state.markerKeys.add(key);
    state.markers.push({ t, text, color });
    if (state.markers.length > 200) state.markers.shift();
  }

  // ---- sections ----
  function renderHeader(f) {
    $("model").textContent = f.model ?? "no coordinator";
    $("label").textContent = f.label ?? "";
    const a = f.adaptation;
    $("planner").textContent = a ? `${a.planner} / ${a.objective}` : f.plan ? "fixed plan" : "";
    const notice = [f.unavailable, f.degraded].filter(Boolean).join("; ");
    $("notice").hidden = !notice;
    $("notice").textContent = notice;
  }

  function renderKpis(f) {
    const w = f.window;
    $("kpi-p50").textContent = ms(w.p50Ms);
    $("kpi-p95").textContent = ms(w.p95Ms);
    $("kpi-fps").textContent = fixed(w.perSecond, 1);
    $("kpi-failed").textContent = String(f.requests.failed);
    $("kpi-energy").textContent = w.energyPerFrameJ === null ? dash : w.energyPerFrameJ.toFixed(3);
    $("kpi-done").textContent = String(f.requests.completed);
    $("kpi-inflight").textContent = String(f.requests.inFlight);
  }

  function renderPlan(f) {
    const layers = state.layout?.layers ?? [];
    const plan = f.plan;
    const key = plan ? `v${plan.version} ` + plan.stages.map(s => `${s.device}[${s.firstNode}..${s.lastNode}]`).join(" ") : "none";
    const switches = f.switches ?? [];
    const last = switches.length ? switches[switches.length - 1] : null;
    const switchKey = last ? `${f.generation}:${last.toVersion}` : null;
    if (switchKey !== state.switchKey) {
      state.switchKey = switchKey;
      renderSwitches(switches);
    }
    if (key === state.planKey) return;
    const fresh = state.planKey !== null && plan !== null;
    state.planKey = key;
    $("plan-version").textContent = plan ? `v${plan.version}` + (plan.compression !== "none" ? `, feature maps ${plan.compression}` : "") : "none deployed";
    const bar = $("plan-bar"), strip = $("plan-layers"), cuts = $("plan-cuts");
    bar.dataset.plan = key;
    bar.replaceChildren(); cuts.replaceChildren();
    if (!plan) { strip.replaceChildren(); return; }
    const total = plan.stages[plan.stages.length - 1].lastNode + 1;
    for (const s of plan.stages) {
      const n = s.lastNode - s.firstNode + 1;
      const first = layers[s.firstNode] ?? `#${s.firstNode}`, lastName = layers[s.lastNode] ?? `#${s.lastNode}`;
      bar.append(el("div", {
        className: "segment", textContent: `${s.device} \u00b7 ${n} layer${n === 1 ? "" : "s"}`,
        title: `${s.device}: layers ${s.firstNode}..${s.lastNode} (${first} .. ${lastName})`,
        style: { flex: `${n} 1 0`, background: colorOf(s.device) }, data: { device: s.device, first: s.firstNode, last: s.lastNode },
      }));
    }
    const owner = new Array(total);
    for (const s of plan.stages) for (let i = s.firstNode; i <= s.lastNode; i++) owner[i] = s.device;
    if (strip.children.length !== total) {
      strip.replaceChildren(...owner.map((_, i) => el("i", { title: `#${i} ${layers[i] ?? ""} (${state.layout?.ops?.[i] ?? "?"})` })));
    }
    [...strip.children].forEach((cell, i) => { cell.style.background = colorOf(owner[i]); });
    const cutBytes = state.layout?.cutBytes;
    plan.stages.slice(0, -1).forEach(s => {
      const size = cutBytes ? bytes(cutBytes[s.lastNode]) : "size not profiled";
      cuts.append(el("span", { style: { left: `${(s.lastNode + 1) / total * 100}%` }, textContent: `cut ${s.lastNode}: ${size}` }));
    });
    $("plan-note").textContent = layers.length ? `${layers.length} layers of ${f.model}; the input enters at the source device` : "";
    if (fresh) {
      bar.classList.remove("fresh"); void bar.offsetWidth; bar.classList.add("fresh");
    }
  }

  function renderSwitches(switches) {
    const now = Date.now();
    $("switches").replaceChildren(...switches.slice().reverse().map((s, i) => el("li", {
      className: i === 0 && now - s.timeMs < 10000 ? "fresh" : "",
      textContent: `${clock(s.timeMs)}  v${s.fromVersion} \u2192 v${s.toVersion} in ${ms(s.durationMs)} ms: ${s.reason}`,
    })));
    for (const s of switches) marker(`${state.generation}:${s.toVersion}`, s.timeMs / 1000, `v${s.toVersion}`, "#f28e2b");
  }

  function renderDevices(f) {
    $("devices").tBodies[0].replaceChildren(...f.devices.map(d => {
      const cpu = d.cpu === null ? dash : el("span", {}, el("span", { className: "bar" }, el("i", { style: { width: pct(d.cpu).replace(" ", "") } })), pct(d.cpu));
      const memory = d.memoryLimitBytes > 0 ? `${bytes(d.memoryAvailableBytes)} of ${bytes(d.memoryLimitBytes)}` : bytes(d.memoryAvailableBytes || null);
      const power = d.powerW === null ? dash : el("span", {}, `${d.powerW.toFixed(2)} W`, el("span", { className: "badge" }, d.powerEstimated ? "estimated" : "metered"));
      return el("tr", { data: { device: d.name } },
        el("td", { title: d.address }, el("span", { className: "swatch", style: { background: colorOf(d.name) } }), d.name, d.source ? el("span", { className: "badge" }, "source") : null),
        el("td", { className: d.alive ? "up" : "down" }, d.alive ? "up" : "down"),
        el("td", {}, cpu),
        el("td", { className: "num" }, pct(d.cpuFree)),
        el("td", { className: "num" }, memory),
        el("td", {}, power),
        el("td", { className: "num" }, d.temperatureC === null ? dash : `${d.temperatureC.toFixed(0)} \u00b0C`),
        el("td", {}, d.provider),
        el("td", { className: "num" }, String(d.queued)),
        el("td", { className: "num" }, String(d.executed)));
    }));
  }

  function renderLinks(f) {
    const configured = state.layout?.configuredLinks ?? [];
    const find = (list, a, b) => list.find(l => l.from === a && l.to === b);
    const rows = [];
    const names = f.devices.map(d => d.name);
    for (const a of names) for (const b of names) {
      if (a === b) continue;
      const learned = find(f.links, a, b), cfg = find(configured, a, b);
      if (learned || cfg) rows.push({ a, b, learned, cfg });
    }
    $("links").tBodies[0].replaceChildren(...rows.map(r => el("tr", {},
      el("td", {}, `${r.a} \u2192 ${r.b}`),
      el("td", { className: "num" }, mbit(r.learned?.bytesPerSecond ?? null)),
      el("td", { className: "num" }, r.learned?.rttMs == null ? dash : `${ms(r.learned.rttMs)} ms`),
      el("td", { className: "num" }, r.cfg ? mbit(r.cfg.bytesPerSecond) : dash),
      el("td", { className: "num" }, r.cfg?.rttMs == null ? dash : `${ms(r.cfg.rttMs)} ms`))));
    drawGraph(f, rows);
  }

  function drawGraph(f, rows) {
    const svg = $("links-graph"), ns = "http://www.w3.org/2000/svg", W = 440, H = 250, R = 80, cx = W / 2, cy = H / 2 - 2;
    const node = (tag, attrs, text) => {
      const n = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
      if (text !== undefined) n.textContent = text;
      return n;
    };
    const pos = new Map(f.devices.map((d, i, all) => {
      const angle = -Math.PI / 2 + i * 2 * Math.PI / Math.max(1, all.length);
      return [d.name, [cx + R * 1.5 * Math.cos(angle), cy + R * Math.sin(angle)]];
    }));
    const parts = [];
    const pairs = new Map();
    for (const r of rows) {
      const key = [r.a, r.b].sort().join("|");
      if (!pairs.has(key)) pairs.set(key, []);
      pairs.get(key).push(r);
    }
    for (const [key, list] of pairs) {
      const [a, b] = key.split("|"), [x1, y1] = pos.get(a), [x2, y2] = pos.get(b);
      const bw = Math.max(...list.map(r => r.learned?.bytesPerSecond ?? r.cfg?.bytesPerSecond ?? 0));
      parts.push(node("line", { x1, y1, x2, y2, stroke: "#aab2c5", "stroke-width": Math.max(1, Math.min(6, Math.log10(bw * 8 / 1e5 + 1) * 2)) }));
      const there = list.find(r => r.learned?.bytesPerSecond != null) ?? list.find(r => r.a === a) ?? list[0];
      // Labels sit beside the line's middle, away from the centre, so two edges' labels do not overlap.
      const mx = (x1 + x2) / 2, my = (y1 + y2) / 2, side = Math.abs(mx - cx) < 20 ? 0 : Math.sign(mx - cx);
      const anchor = side < 0 ? "end" : side > 0 ? "start" : "middle", tx = mx + side * 8, ty = side === 0 ? my + 14 : my;
      const short = (bps, rtt) => `${bps == null ? "?" : (bps * 8 / 1e6).toFixed(bps * 8 / 1e6 < 10 ? 1 : 0) + " Mbit/s"} \u00b7 ${rtt == null ? "?" : ms(rtt) + " ms"}`;
      parts.push(node("text", { x: tx, y: ty - 3, "text-anchor": anchor }, there.learned ? short(there.learned.bytesPerSecond, there.learned.rttMs) : "not measured"));
      if (there.cfg) parts.push(node("text", { x: tx, y: ty + 10, "text-anchor": anchor, class: "cfg" }, "cfg " + short(there.cfg.bytesPerSecond, there.cfg.rttMs)));
    }
    for (const d of f.devices) {
      const [x, y] = pos.get(d.name);
      parts.push(node("circle", { cx: x, cy: y, r: 15, fill: d.alive ? colorOf(d.name) : "#ccc", stroke: d.source ? "#1d2330" : "#fff", "stroke-width": 2 }));
      parts.push(node("text", { x, y: y + 27, "text-anchor": "middle", "font-weight": 600 }, d.name + (d.alive ? "" : " (down)")));
    }
    svg.replaceChildren(...parts);
  }

  function renderCharts(f) {
    const x = f.timeMs / 1000, w = f.window;
    if (w.lastSequence > state.lastSequence && w.samples > 0) {
      push(charts.latency, x, [w.p50Ms, w.p95Ms]);
      if (w.energyPerFrameJ !== null) push(charts.energy, x, [w.energyPerFrameJ]);
    }
    state.lastSequence = w.lastSequence;
    let failedPerS = null;
    if (state.lastFailed !== null && f.timeMs > state.lastTime) failedPerS = (f.requests.failed - state.lastFailed) / ((f.timeMs - state.lastTime) / 1000);
    state.lastFailed = f.requests.failed; state.lastTime = f.timeMs;
    if (f.model) push(charts.rate, x, [w.perSecond, failedPerS]);
  }

  function renderDecisions(f) {
    const a = f.adaptation;
    $("adaptation").textContent = a
      ? `planner ${a.planner}, objective ${a.objective}, cost correction ${a.costCorrection ? "on" : "off"}: ${a.decisions} decisions, ${a.switches} switches; last decision ${a.lastDecisionMs.toFixed(2)} ms (mean ${a.meanDecisionMs.toFixed(2)} ms)`
      : "this coordinator's plan source does not adapt: plans change only when a device dies or returns";
    // The coordinator keeps only its latest decisions and sends each once: the page keeps the log.
    for (const r of a?.recent ?? []) {
      if (r.sequence > state.lastDecision) { state.decisions.push(r); state.lastDecision = r.sequence; }
    }
    if (state.decisions.length > 500) state.decisions.splice(0, state.decisions.length - 500);
    const quiet = $("quiet").checked, drawn = `${state.generation}:${state.lastDecision}:${quiet}:${state.switchKey}`;
    // A switch completes after the decision that asked for it: the first one to end at or after it.
    const switchOf = r => (f.switches ?? []).find(s => s.timeMs >= r.timeMs);
    if (drawn === state.decisionsDrawn) return;
    state.decisionsDrawn = drawn;
    const rows = state.decisions.filter(r => quiet || !["ConditionsUnchanged", "SamePlan"].includes(r.reason)).slice(-60).reverse();
    $("decisions").tBodies[0].replaceChildren(...rows.map(r => el("tr", { className: r.switched ? "switched" : "" },
      el("td", {}, clock(r.timeMs)),
      el("td", {}, r.reason),
      el("td", {}, !r.switched ? "no" : switchOf(r) ? `v${switchOf(r).toVersion} in ${ms(switchOf(r).durationMs)} ms` : "yes, deploying"),
      el("td", { className: "plan" }, r.oldPlan && r.oldPlan !== r.plan ? `${r.oldPlan} \u2192 ${r.plan}` : r.plan),
      el("td", { className: "num" }, `${fixed(r.oldValue, 3)} \u2192 ${fixed(r.newValue, 3)}`),
      el("td", { className: "num" }, fixed(r.predictedGain, 3)),
      el("td", { className: "num" }, `${r.decisionMs.toFixed(2)} ms`),
      el("td", { className: "detail" }, r.detail))));
  }

  function render(f) {
    state.frames++;
    if (f.generation !== state.generation) {
      state.generation = f.generation;
      state.layout = f.layout ?? (f.generation === 0 ? null : state.layout);
      state.lastSequence = -1; state.lastFailed = null; state.planKey = null; state.switchKey = null;
      state.decisions = []; state.lastDecision = 0; state.decisionsDrawn = null;
      if (f.model) marker(`gen:${f.generation}`, f.timeMs / 1000, f.label ?? f.model, "#1d2330");
    }
    renderHeader(f);
    renderKpis(f);
    renderPlan(f);
    renderDevices(f);
    renderLinks(f);
    renderCharts(f);
    renderDecisions(f);
  }

  function connect() {
    const conn = $("conn");
    const source = new EventSource("events");
    source.addEventListener("frame", e => {
      conn.textContent = "live"; conn.className = "conn live";
      render(JSON.parse(e.data));
    });
    // EventSource reconnects by itself; say so meanwhile.
    source.onerror = () => { conn.textContent = "reconnecting\u2026"; conn.className = "conn"; };
  }

  makeCharts();
  // For tests and curious readers: the charts' data and the page's state.
  window.edgesplit = { charts, state };
  connect();
})();
