// The calculator's behaviour (inlined by inferonomics.optimize.web.page after the generated code, which defines
// FORMULAS, CONDITIONS, CHART and CALC). It reads inputs from the URL and the fields, resolves catalog values
// the way the CLI does (catalog_args.resolve_catalog_values: catalog first, explicit numbers win), calls the
// exported closed forms, and draws. Nothing here computes a result of its own.
const $ = (id) => document.getElementById(id);
const BY_FLAG = Object.fromEntries(CALC.inputs.map((i) => [i.flag, i]));
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const SVGNS = "http://www.w3.org/2000/svg";
let state = blank();

function blank() {
  return {model: "", hardware: "", precision: "", given: {}};
}

function readUrl() {
  const problems = [];
  for (const [key, value] of new URLSearchParams(location.search)) {
    if (CALC.catalogFlags.includes(key)) state[key] = canonical(key, value);
    else if (key in BY_FLAG) state.given[key] = value;
    else problems.push(`unknown parameter "${key}" ignored`);
  }
  return problems;
}

// A catalog name as the CLI looks it up (catalog.loader.lookup): any spelling it knows, case and "_" aside.
function canonical(flag, text) {
  const key = text.toLowerCase().replaceAll("_", "-").trim().split(/\s+/).join(" ");
  const table = CALC.catalog.spellings[flag];
  return table[key] || table[key.replaceAll(" ", "-")] || text.trim();
}

// A number the CLI would accept for this flag, or an error message (its number types, in words).
function parse(text, input) {
  const t = String(text).trim();
  const x = NUMBER.test(t) ? Number(t) : NaN;
  const bound = `${input.lowInclusive ? ">=" : ">"} ${input.low}`;
  const want = input.integer ? `a whole number ${bound}` : `a finite number ${bound}`;
  if (!Number.isFinite(x) || (input.lowInclusive ? x < input.low : x <= input.low)
      || (input.integer && !Number.isInteger(x))) {
    return {error: `${input.flag}: expected ${want}, got "${t}"`};
  }
  return {value: x};
}

// Catalog values, as catalog_args.resolve_catalog_values binds them.
function catalogValues() {
  const cat = CALC.catalog, values = {}, errors = [];
  const find = (kind, table, name) => {
    if (!name) return null;
    if (!(name in table)) errors.push(`unknown ${kind} "${name}"`);
    return table[name] || null;
  };
  const m = find("model", cat.models, state.model);
  const hw = find("card", cat.hardware, state.hardware);
  const w = find("precision", cat.precisions, state.precision) ? state.precision : null;
  const put = (entry, from) => {
    if (entry.error) errors.push(entry.error);
    else for (const [k, v] of Object.entries(entry)) values[k] = {value: v, from};
  };
  if (m) {
    const wp = w || m.default_precision;
    put(m.values[wp], `${m.display}, ${wp}`);
    if (hw) put(hw.values[hw.activation[wp]], `${hw.display}, ${hw.activation[wp]} compute`);
  } else if (hw) {
    put(hw.values.bf16, `${hw.display}, bf16 compute`);
  }
  if (!m && w) values.bytes_per_weight = {value: cat.precisions[w].bytes_per_weight, from: w};
  return {values, errors};
}

// Every symbol's value and where it came from; bad: flags whose typed text is not a valid number.
function resolve() {
  const cat = catalogValues();
  const values = {}, from = {}, bad = {};
  for (const input of CALC.inputs) {
    const s = input.symbol;
    if (input.flag in state.given) {
      const p = parse(state.given[input.flag], input);
      // a bad number is reported, never silently replaced: what needs it waits
      if (p.error) bad[input.flag] = p.error;
      else { values[s] = p.value; from[s] = "given"; }
      continue;
    }
    if (s in cat.values) { values[s] = cat.values[s].value; from[s] = `from ${cat.values[s].from}`; }
    else if (CALC.defaults[s] !== null && CALC.defaults[s] !== undefined) {
      values[s] = CALC.defaults[s]; from[s] = "the essay's example";
    }
  }
  return {values, from, bad, errors: cat.errors};
}

function fmtExact(x) {  // the text of an output: 12 significant digits, shortest form
  return String(Number(x.toPrecision(12)));
}

function fmtField(x) {
  return (x !== 0 && (Math.abs(x) >= 1e7 || Math.abs(x) < 1e-3)) ? x.toExponential() : String(x);
}

function fmtHuman(x) {
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e9 || a < 1e-3)) return x.toExponential(3).replace("e+", "e");
  const t = String(Number(x.toPrecision(4)));
  const [i, f] = t.split(".");
  return i.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (f ? "." + f : "");
}

// The same number for people: in the output's display unit, rounded, with thousands separators.
function humanText(o, x) {
  if (o.scale !== 1 || o.unit === "%") return `= ${fmtHuman(x * o.scale)} ${o.unit}`;
  return fmtHuman(x) !== fmtExact(x) ? `\u2248 ${fmtHuman(x)} ${o.unit}` : o.unit;
}

function evaluate(name, values) {
  const f = FORMULAS[name];
  const missing = f.args.filter((a) => !(a in values));
  if (missing.length) return {missing};
  const args = f.args.map((a) => values[a]);
  const holds = CONDITIONS[name].map((c) => c.test(...args));
  const x = f.fn(...args);
  return {x, holds, valid: holds.every(Boolean) && Number.isFinite(x)};
}

function showOutputs(values) {
  const results = {};
  for (const o of CALC.outputs) {
    const card = $(`out-${o.name}`), out = card.querySelector("output");
    const human = card.querySelector(".human"), note = card.querySelector(".note");
    const r = evaluate(o.name, values);
    results[o.name] = r;
    card.querySelectorAll("li[data-condition]").forEach((li, k) => {
      li.dataset.holds = r.holds ? String(r.holds[k]) : "";
    });
    if (r.missing) {
      const flags = r.missing.map((s) => CALC.inputs.find((i) => i.symbol === s)?.flag || s);
      card.dataset.state = "missing"; out.dataset.valid = "false"; out.textContent = "\u2014";
      human.textContent = ""; note.textContent = `needs ${flags.join(", ")}`;
    } else if (!r.valid) {
      card.dataset.state = "invalid"; out.dataset.valid = "false"; out.textContent = "none";
      human.textContent = ""; note.textContent = "does not exist here: a validity condition fails";
    } else {
      card.dataset.state = "valid"; out.dataset.valid = "true"; out.textContent = fmtExact(r.x);
      human.textContent = humanText(o, r.x);
      note.textContent = "";
    }
  }
  return results;
}

function showFields(res) {
  for (const input of CALC.inputs) {
    const el = $(`in-${input.flag}`), src = $(`src-${input.flag}`);
    const given = input.flag in state.given;
    if (document.activeElement !== el) {
      el.value = given ? state.given[input.flag] : (input.symbol in res.values ? fmtField(res.values[input.symbol]) : "");
    }
    el.classList.toggle("given", given);
    el.setAttribute("aria-invalid", String(input.flag in res.bad));
    src.textContent = res.bad[input.flag] || res.from[input.symbol] || "needed: no catalog or default value";
    src.classList.toggle("error", input.flag in res.bad);
    const slider = $(`slide-${input.flag}`);
    if (slider && input.symbol in res.values) {
      slider.value = String(Math.log10(res.values[input.symbol] + (input.flag === "context" ? 1 : 0)));
    }
  }
  for (const flag of CALC.catalogFlags) $(`in-${flag}`).value = state[flag] in optionsOf(flag) ? state[flag] : "";
  const model = CALC.catalog.models[state.model];
  $("catalog-note").hidden = !(model && model.moe);
  const err = $("catalog-error");
  err.hidden = !res.errors.length; err.textContent = res.errors.join("; ");
}

function optionsOf(flag) {
  return {model: CALC.catalog.models, hardware: CALC.catalog.hardware, precision: CALC.catalog.precisions}[flag];
}

function permalink() {
  const q = new URLSearchParams();
  for (const flag of CALC.catalogFlags) if (state[flag]) q.set(flag, state[flag]);
  for (const input of CALC.inputs) if (input.flag in state.given) q.set(input.flag, state.given[input.flag]);
  const href = `?${q.toString()}`;
  $("permalink").href = href;
  try { history.replaceState(null, "", href); } catch (e) { /* some file: URLs refuse; the link still works */ }
}

// ---- charts (SVG) --------------------------------------------------------------------------------------
const BOX = {left: 62, right: 505, top: 14, bottom: 252};

function el(name, attrs, text) {
  const node = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function logScale(lo, hi, a, b) {
  const l0 = Math.log10(lo), l1 = Math.log10(hi);
  return (x) => a + (Math.log10(x) - l0) / (l1 - l0) * (b - a);
}

function decades(lo, hi) {
  const out = [];
  for (let e = Math.ceil(Math.log10(lo) - 1e-9); e <= Math.floor(Math.log10(hi) + 1e-9); e++) out.push(10 ** e);
  return out;
}

function tick(x) {
  return x >= 1e4 || x < 1e-2 ? `1e${Math.round(Math.log10(x))}` : String(x);
}

function frame(svg, xTicks, yTicks, sx, sy, xLabel, yLabel, yFmt) {
  svg.replaceChildren();
  svg.append(el("rect", {x: BOX.left, y: BOX.top, width: BOX.right - BOX.left, height: BOX.bottom - BOX.top,
                         class: "plot"}));
  for (const t of xTicks) {
    svg.append(el("line", {x1: sx(t), x2: sx(t), y1: BOX.top, y2: BOX.bottom, class: "grid"}));
    svg.append(el("text", {x: sx(t), y: BOX.bottom + 16, class: "tick", "text-anchor": "middle"}, tick(t)));
  }
  for (const t of yTicks) {
    svg.append(el("line", {x1: BOX.left, x2: BOX.right, y1: sy(t), y2: sy(t), class: "grid"}));
    svg.append(el("text", {x: BOX.left - 6, y: sy(t) + 4, class: "tick", "text-anchor": "end"}, yFmt(t)));
  }
  svg.append(el("text", {x: (BOX.left + BOX.right) / 2, y: 290, class: "axis", "text-anchor": "middle"}, xLabel));
  svg.append(el("text", {x: 14, y: (BOX.top + BOX.bottom) / 2, class: "axis", "text-anchor": "middle",
                         transform: `rotate(-90 14 ${(BOX.top + BOX.bottom) / 2})`}, yLabel));
}

function message(svg, text) {
  svg.replaceChildren(el("text", {x: 260, y: 150, class: "axis", "text-anchor": "middle"}, text));
}

function polyline(points, cls) {
  return el("polyline", {points: points.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(" "), class: cls});
}

function utilizationChart(values, results) {
  const svg = $("chart-utilization"), u = FORMULAS.utilization;
  if (!u || u.args.some((a) => !(a in values))) return message(svg, "utilization needs more inputs");
  const at = (b) => u.fn(...u.args.map((a) => (a === "batch" ? b : values[a])));
  const kv = results.break_even_batch_with_kv, w = results.break_even_batch;
  const bstar = kv && kv.valid ? kv.x : null;
  const ref = bstar || (w && w.valid ? w.x : values.batch);
  const xmax = 10 ** Math.ceil(Math.log10(Math.max(ref * 4, values.batch * 2, 10)));
  const sx = logScale(1, xmax, BOX.left, BOX.right), sy = (y) => BOX.bottom - y * (BOX.bottom - BOX.top);
  frame(svg, decades(1, xmax), [0, 0.25, 0.5, 0.75, 1], sx, sy, "batch B (sequences per step)",
        "utilization", (t) => `${t * 100}%`);
  const pts = [];
  for (let k = 0; k <= 240; k++) {
    const b = xmax ** (k / 240), y = at(b);
    if (Number.isFinite(y)) pts.push([sx(b), sy(y)]);
  }
  svg.append(polyline(pts, "curve"));
  if (bstar && bstar <= xmax) {
    svg.append(el("line", {x1: sx(bstar), x2: sx(bstar), y1: BOX.top, y2: BOX.bottom, class: "mark"}));
    svg.append(el("text", {x: sx(bstar) + 4, y: BOX.bottom - 8, class: "label"}, `B* = ${fmtHuman(bstar)}`));
  } else if (!bstar) {
    svg.append(el("text", {x: BOX.left + 8, y: BOX.top + 18, class: "label"},
                  "beyond the critical context: never compute-bound"));
  }
  const ub = at(values.batch);
  if (Number.isFinite(ub)) {
    svg.append(el("circle", {cx: sx(values.batch), cy: sy(ub), r: 5, class: "point"}));
    svg.append(el("text", {x: sx(values.batch) + 8, y: sy(ub) + (ub > 0.85 ? 16 : -8), class: "label"},
                  `B = ${fmtHuman(values.batch)}: ${fmtHuman(ub * 100)}%`));
  }
}

function rooflineChart(values) {
  const svg = $("chart-roofline"), u = FORMULAS.utilization;
  const need = ["peak_flop_per_s", "hbm_bandwidth_bytes_per_s", ...CHART.intensityArgs, ...(u ? u.args : [])];
  if (!u || need.some((a) => !(a in values))) return message(svg, "the roofline needs F, W and the model's numbers");
  const F = values.peak_flop_per_s, W = values.hbm_bandwidth_bytes_per_s, ridge = F / W;
  const batches = [1, 8, 64, 512, 4096];
  const point = (b) => {
    const x = CHART.intensity(...CHART.intensityArgs.map((a) => (a === "batch" ? b : values[a])));
    const y = u.fn(...u.args.map((a) => (a === "batch" ? b : values[a]))) * F;
    return [b, x, y];
  };
  const pts = [...batches, values.batch].map(point).filter(([, x, y]) => x > 0 && y > 0 && Number.isFinite(x + y));
  const xs = pts.map((p) => p[1]);
  const down = (v) => 10 ** Math.floor(Math.log10(v)), up = (v) => 10 ** Math.ceil(Math.log10(v));
  const xlo = down(Math.min(ridge / 100, ...xs)), xhi = up(Math.max(ridge * 10, ...xs));
  const ylo = down(Math.min(CHART.roof(F, W, xlo), ...pts.map((p) => p[2]))), yhi = up(F * 1.5);
  const sx = logScale(xlo, xhi, BOX.left, BOX.right), sy = logScale(ylo, yhi, BOX.bottom, BOX.top);
  const every = (ts) => (ts.length > 7 ? ts.filter((_, k) => k % 2 === 0) : ts);
  frame(svg, every(decades(xlo, xhi)), every(decades(ylo, yhi)), sx, sy, "arithmetic intensity (FLOP per byte read)",
        "FLOP/s per chip", tick);
  const roof = [];
  for (let k = 0; k <= 120; k++) {
    const x = xlo * (xhi / xlo) ** (k / 120);
    roof.push([sx(x), sy(CHART.roof(F, W, x))]);
  }
  roof.push([sx(ridge), sy(CHART.roof(F, W, ridge))]);
  roof.sort((a, b) => a[0] - b[0]);
  svg.append(polyline(roof, "curve"));
  svg.append(el("line", {x1: sx(ridge), x2: sx(ridge), y1: BOX.top, y2: BOX.bottom, class: "mark"}));
  svg.append(el("text", {x: sx(ridge) + 4, y: BOX.bottom - 8, class: "label"}, `ridge F/W = ${fmtHuman(ridge)}`));
  let lastLabel = -Infinity;
  pts.forEach(([b, x, y], k) => {
    const chosen = k === pts.length - 1 && b === values.batch;
    const crowded = Math.abs(sx(x) - lastLabel) < 46;  // long contexts bunch the points: label fewer
    if (!chosen && !crowded) lastLabel = sx(x);
    svg.append(el("circle", {cx: sx(x), cy: sy(y), r: chosen ? 7 : 3.5, class: chosen ? "point chosen" : "point"}));
    const right = sx(x) > BOX.right - 40;  // keep labels near the right edge inside the frame
    if (!chosen && !crowded) {
      svg.append(el("text", {x: sx(x) + (right ? -5 : 5), y: sy(y) + 14, class: "small",
                             "text-anchor": right ? "end" : "start"}, `B=${b}`));
    }
  });
}

// ---- wiring ---------------------------------------------------------------------------------------------
let updates = 0;

function update() {
  const res = resolve();
  const results = showOutputs(res.values);
  showFields(res);
  utilizationChart(res.values, results);
  rooflineChart(res.values);
  permalink();
  document.documentElement.dataset.updates = String(++updates);
}

function listen() {
  for (const input of CALC.inputs) {
    const edited = (e) => {
      if (e.target.value.trim() === "") delete state.given[input.flag];
      else state.given[input.flag] = e.target.value;
      update();
    };
    $(`in-${input.flag}`).addEventListener("input", edited);
    $(`in-${input.flag}`).addEventListener("change", edited);
    const slider = $(`slide-${input.flag}`);
    if (slider) {
      slider.addEventListener("input", () => {
        const x = Math.round(10 ** Number(slider.value)) - (input.flag === "context" ? 1 : 0);
        state.given[input.flag] = String(x);
        $(`in-${input.flag}`).value = String(x);
        update();
      });
    }
  }
  for (const flag of CALC.catalogFlags) {
    $(`in-${flag}`).addEventListener("change", (e) => {
      state[flag] = e.target.value;
      // a new catalog choice replaces the numbers it supplies (explicit numbers win only until then)
      const source = {model: "model", hardware: "hardware", precision: "model"}[flag];
      for (const input of CALC.inputs) if (input.source === source) delete state.given[input.flag];
      update();
    });
  }
  $("reset").addEventListener("click", () => { state = blank(); update(); });
  for (const input of CALC.inputs) $(`in-${input.flag}`).addEventListener("blur", update);
}

const problems = readUrl();
$("url-error").hidden = !problems.length;
$("url-error").textContent = problems.join("; ");
listen();
update();
document.documentElement.dataset.readyMs = performance.now().toFixed(1);
