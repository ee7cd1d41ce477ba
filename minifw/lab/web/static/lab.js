// minifw lab: the page. Controls are built from the server's description of the run's
// settings (/api/controls); frames arrive on one Server-Sent Events stream and only the
// newest is drawn, once per animation frame, so a busy page skips frames instead of lagging.
"use strict";

const $ = (id) => document.getElementById(id);
const PIN_COLOURS = ["#e08214", "#7b3294", "#1b9e77", "#d95f02", "#e7298a", "#66a61e"];
const lab = {
  session: null,
  controls: [],
  charts: {},
  latest: null, // the newest frame not drawn yet
  drawing: false,
  generation: -1,
  stats: { frames: 0, drawn: 0, since: performance.now(), knobAt: null, knobToFrame: [] },
};
window.labStats = lab.stats; // read by the browser tests and benchmarks/lab_stream.py

async function request(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return [response.status, await response.json()];
}

// Controls -------------------------------------------------------------------------------

function makeControl(c) {
  const label = document.createElement("label");
  label.className = "control";
  label.title = c.help + (c.limit ? ` (the lab allows at most ${c.limit})` : "");
  const name = document.createElement("span");
  name.textContent = c.name;
  label.append(name);
  let input;
  if (c.kind === "choice") {
    input = document.createElement("select");
    for (const choice of c.choices) input.add(new Option(choice, choice));
    input.value = c.default;
  } else if (c.kind === "flag") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = c.default === "true";
  } else {
    input = document.createElement("input");
    input.value = c.default;
    input.placeholder = c.optional ? "default" : "";
    if (c.kind === "component") {
      // Free text, so that parameters can be typed ("adam:beta1=0.8"); the names suggested.
      const list = document.createElement("datalist");
      list.id = `choices-${c.name}`;
      for (const choice of c.choices) list.append(new Option(choice));
      label.append(list);
      input.setAttribute("list", list.id);
    }
  }
  input.name = c.name;
  input.dataset.testid = `control-${c.name}`;
  label.append(input);
  const error = document.createElement("div");
  error.className = "error";
  error.id = `error-${c.name}`;
  error.dataset.testid = `error-${c.name}`;
  label.append(error);
  input.addEventListener(c.kind === "choice" || c.kind === "flag" ? "change" : "input", () => {
    if (c.name === "target" || c.name === "domain") previewTarget();
    changed(c.kind === "choice" || c.kind === "flag" ? 0 : 350);
  });
  return label;
}

function values() {
  const texts = {};
  for (const c of lab.controls) {
    const input = document.querySelector(`[name="${c.name}"]`);
    texts[c.name] = c.kind === "flag" ? String(input.checked) : input.value;
  }
  return texts;
}

function seeds() {
  const text = $("seeds").value.trim();
  return /^\d+$/.test(text) ? Number(text) : text;
}

function showErrors(errors) {
  for (const element of document.querySelectorAll(".error")) element.textContent = "";
  for (const [name, message] of Object.entries(errors || {})) {
    const element = $(`error-${name}`) || $("error-run");
    const unplaced = element.id === "error-run" && name !== "run"; // a control not on the page
    element.textContent = unplaced ? `${name}: ${message}` : message;
  }
}

function showRun(answer) {
  if (answer.command !== undefined) $("command").textContent = answer.command;
  if (answer.notes) {
    $("notes").replaceChildren(...answer.notes.map((n) => Object.assign(document.createElement("li"), { textContent: n })));
  }
  if (answer.pins) showPins(answer.pins);
}

let pending = null;
function changed(delay) {
  clearTimeout(pending);
  pending = setTimeout(async () => {
    lab.stats.knobAt = performance.now();
    const [, answer] = await request("/api/apply", { session: lab.session, values: values(), seeds: seeds() });
    showErrors(answer.errors);
    showRun(answer);
  }, delay);
}

let previewing = null;
function previewTarget() {
  clearTimeout(previewing);
  previewing = setTimeout(async () => {
    const text = document.querySelector('[name="target"]').value;
    const domain = document.querySelector('[name="domain"]').value;
    const [, curve] = await request("/api/target", { text, domain });
    $("error-target").textContent = curve.error || "";
    if (!curve.error) ensureChart("preview", "fit", 1, () => fitOptions(0, true)).setData([curve.x, curve.y]);
  }, 80);
}

// Charts ---------------------------------------------------------------------------------

function size(id) {
  const width = $(id).clientWidth || 500;
  return { width, height: 230 };
}

function ensureChart(kind, id, count, options) {
  // A chart is made again when the number of its series changes (units, pins, seeds).
  const key = `${kind}:${count}`;
  const chart = lab.charts[id];
  if (chart && chart.key === key) return chart.plot;
  if (chart) chart.plot.destroy();
  const plot = new uPlot({ ...size(`chart-${id}`), ...options() }, null, $(`chart-${id}`));
  lab.charts[id] = { key, plot };
  return plot;
}

function line(label, stroke, extra) {
  return { label, stroke, width: 1.5, spanGaps: false, ...extra };
}

function quartile(label) {
  return { label, stroke: "rgba(33,102,172,0.25)", width: 0.5 };
}

function shadeOutside(plot) {
  // The part of the plotted domain past the training domain: extrapolation, shaded grey.
  const domain = lab.trainDomain;
  if (!domain) return;
  const ctx = plot.ctx;
  const { left, top, width, height } = plot.bbox;
  const low = plot.valToPos(domain[0], "x", true);
  const high = plot.valToPos(domain[1], "x", true);
  ctx.save();
  ctx.fillStyle = "rgba(0,0,0,0.07)";
  if (low > left) ctx.fillRect(left, top, low - left, height);
  if (high < left + width) ctx.fillRect(high, top, left + width - high, height);
  ctx.restore();
}

function fitOptions(pins, previewOnly) {
  const series = [{ label: "x" }, line("target", "#000", { dash: [5, 4] })];
  if (!previewOnly) {
    series.push(line("learned (median)", "#2166ac", { width: 2 }), quartile("q1"), quartile("q3"));
    for (let i = 0; i < pins; i++) series.push(line(`pin ${i + 1}`, PIN_COLOURS[i % PIN_COLOURS.length]));
  }
  return {
    series,
    bands: previewOnly ? [] : [{ series: [4, 3], fill: "rgba(33,102,172,0.15)" }],
    scales: { x: { time: false } },
    hooks: { drawClear: [shadeOutside] },
    legend: { live: false },
  };
}

function decades(plot, min, max) {
  // Whole powers of ten around the data, recomputed with every frame: a loss that falls
  // past the lowest decade drawn so far takes the axis down with it.
  const low = min > 0 ? 10 ** Math.floor(Math.log10(min)) : 1e-6;
  const high = max > 0 ? 10 ** Math.ceil(Math.log10(max)) : 1;
  return [low, high > low ? high : low * 10];
}

function lossOptions(pins) {
  const series = [{ label: "epoch" }, line("loss (median)", "#2166ac", { width: 2 }), quartile("q1"), quartile("q3")];
  for (let i = 0; i < pins; i++) series.push(line(`pin ${i + 1}`, PIN_COLOURS[i % PIN_COLOURS.length]));
  return {
    series,
    bands: [{ series: [3, 2], fill: "rgba(33,102,172,0.15)" }],
    scales: { x: { time: false }, y: { distr: 3, range: decades } },
    axes: [{}, { size: 60 }],
    legend: { live: false },
  };
}

function plainOptions(labels, colours) {
  return {
    series: [{ label: "x" }, ...labels.map((l, i) => line(l, colours(i)))],
    scales: { x: { time: false } },
    hooks: { drawClear: [shadeOutside] },
    legend: { show: labels.length <= 12, live: false },
  };
}

function padded(values, length) {
  const out = values.slice();
  while (out.length < length) out.push(null);
  return out;
}

function draw(frame) {
  lab.trainDomain = frame.train_domain;
  const pins = frame.pins || [];
  const n = frame.loss_epochs.length;
  ensureChart("loss", "loss", pins.length, () => lossOptions(pins.length)).setData([
    frame.loss_epochs,
    ...frame.losses.map((v) => padded(v, n)),
    ...pins.map((p) => p.loss),
  ]);
  const target = frame.target || frame.x.map(() => null);
  ensureChart("fit", "fit", pins.length, () => fitOptions(pins.length, false)).setData([
    frame.x, target, ...frame.fit, ...pins.map((p) => p.fit),
  ]);
  const units = frame.hidden.length;
  const hue = (i) => `hsl(${(i * 360) / Math.max(units, 1)}, 60%, 45%)`;
  ensureChart("hidden", "hidden", units, () => plainOptions(frame.hidden.map((_, i) => `unit ${i + 1}`), hue))
    .setData([frame.x, ...frame.hidden]);
  ensureChart("error", "error", 1, () => plainOptions(["error"], () => "#b2182b"))
    .setData([frame.x, frame.error || frame.x.map(() => null)]);
  $("epoch").textContent = frame.epoch;
  $("epochs").textContent = frame.epochs;
  $("loss").textContent = frame.loss === null ? "-" : frame.loss.toPrecision(4);
  const o = frame.outcomes;
  $("outcomes").textContent = `${frame.seeds} seed${frame.seeds > 1 ? "s" : ""}: ` +
    `${o.learned} learned, ${o.flat} flat, ${o.diverged} diverged`;
  $("pause").textContent = frame.paused ? "Resume" : "Pause";
  lab.stats.drawn += 1;
}

function drawLatest() {
  lab.drawing = false;
  const frame = lab.latest;
  lab.latest = null;
  if (frame) draw(frame);
}

// The stream ---------------------------------------------------------------------------------

function listen() {
  const stream = new EventSource(`/api/stream?session=${lab.session}`);
  stream.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    lab.stats.frames += 1;
    if (frame.generation !== lab.generation) {
      lab.generation = frame.generation;
      if (lab.stats.knobAt !== null) {
        lab.stats.knobToFrame.push(performance.now() - lab.stats.knobAt);
        lab.stats.knobAt = null;
      }
    }
    lab.latest = frame;
    if (!lab.drawing) {
      lab.drawing = true;
      requestAnimationFrame(drawLatest);
    }
  };
  stream.onerror = () => {
    // The browser reconnects by itself after a blip; CLOSED means the server said no:
    // it was stopped, or this tab's session ended.
    if (stream.readyState === EventSource.CLOSED) {
      showErrors({ run: "the lab stopped, or this tab's session ended: reload the page" });
    }
  };
  let counted = 0;
  setInterval(() => { // frames received in the last second, while training
    const frames = lab.stats.frames - counted;
    counted = lab.stats.frames;
    if (frames > 1) $("fps").textContent = `${frames} frames/s received`;
  }, 1000);
}

// Pins, buttons, downloads ---------------------------------------------------------------------

function showPins(table) {
  const rows = [["", ...table.columns, "final loss", "evaluation error", "ledger id", ""]];
  const body = table.rows.map((row, i) => [row.label, ...row.values,
    row.final_loss === null ? "" : row.final_loss.toPrecision(4),
    row.evaluation_error === null ? "" : row.evaluation_error.toPrecision(4),
    row.record || "", row.record ? i : null]);
  const element = $("pins");
  element.replaceChildren();
  for (const [r, cells] of [...rows, ...body].entries()) {
    const tr = element.insertRow();
    for (const [c, cell] of cells.entries()) {
      const td = document.createElement(r === 0 ? "th" : "td");
      if (r > 0 && c === cells.length - 1 && cell !== null) {
        const button = Object.assign(document.createElement("button"), { textContent: "unpin" });
        button.onclick = async () => showPins((await request("/api/unpin", { session: lab.session, index: cell }))[1]);
        td.append(button);
      } else td.textContent = cell === null ? "" : cell;
      tr.append(td);
    }
  }
}

function control(action) {
  return request("/api/control", { session: lab.session, action });
}

async function start() {
  const response = await fetch("/api/controls");
  const described = await response.json();
  lab.controls = described.controls;
  const groups = {};
  for (const c of lab.controls) {
    if (!groups[c.group]) {
      const fieldset = document.createElement("fieldset");
      fieldset.append(Object.assign(document.createElement("legend"), { textContent: c.group }));
      $("settings").append(fieldset);
      groups[c.group] = fieldset;
    }
    groups[c.group].append(makeControl(c));
  }
  $("seeds").addEventListener("input", () => changed(350));
  $("pause").onclick = () => control($("pause").textContent === "Pause" ? "pause" : "resume");
  $("step").onclick = () => control("step");
  $("reset").onclick = () => control("reset");
  $("pin").onclick = async () => {
    const [status, answer] = await request("/api/pin", { session: lab.session });
    if (status === 200) showPins(answer);
    else showErrors({ run: answer.error });
  };
  window.addEventListener("resize", () => {
    for (const [id, chart] of Object.entries(lab.charts)) chart.plot.setSize(size(`chart-${id}`));
  });
  $("copy").onclick = () => navigator.clipboard.writeText($("command").textContent);
  const [, answer] = await request("/api/session", { values: values(), seeds: seeds() });
  lab.session = answer.session;
  if (!lab.session) return showErrors({ run: answer.error });
  for (const link of document.querySelectorAll("#downloads a")) {
    link.href = `/api/download/${link.dataset.file}?session=${lab.session}`;
  }
  showErrors(answer.errors);
  showRun(answer);
  listen();
  document.body.dataset.ready = "true";
}

start();
