"use strict";
// The flowam report: builds the views of the chosen group, class and restart from the
// embedded data (see flowam/report.py for its layout).
performance.mark("flowam-start"); // the page's own work begins (after plotly.js is parsed)
const DATA = JSON.parse(document.getElementById("flowam-data").textContent);
const $ = (id) => document.getElementById(id);
const CAMERA = { eye: { x: 1.15, y: 0.7, z: 1.15 }, up: { x: 0, y: 1, z: 0 } }; // +y is up
let camera = CAMERA;
let syncing = false;

function decode(b64) {
  // base64 int16 x y z triples → {x, y, z} typed arrays in the data's units
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const q = new Int16Array(bytes.buffer);
  const n = q.length / 3;
  const k = DATA.scale / DATA.quant;
  const x = new Float32Array(n), y = new Float32Array(n), z = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = q[3 * i] * k;
    y[i] = q[3 * i + 1] * k;
    z[i] = q[3 * i + 2] * k;
  }
  return { x, y, z };
}

function option(select, values, labels) {
  select.innerHTML = "";
  values.forEach((v, i) => {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = labels ? labels[i] : v;
    select.appendChild(o);
  });
}

function group() {
  return DATA.groups[Number($("group").value)];
}

function keysOfClass(g, name) {
  const keys = new Set();
  g.methods.forEach((m) =>
    Object.keys(g.clouds[m]).forEach((k) => {
      if (k.slice(0, k.lastIndexOf("_")) === name) keys.add(k);
    })
  );
  return [...keys].sort((a, b) => Number(a.split("_").pop()) - Number(b.split("_").pop()));
}

function classesOf(g) {
  return DATA.classes.filter((c) => keysOfClass(g, c).length > 0);
}

function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  return String(v);
}

function caption(scores) {
  if (!scores) return "not explained for this class";
  return (
    `logit ${fmt(scores.target_logit, 2)} · CD ${fmt(scores.chamfer_to_real, 4)} · ` +
    `1-NN: ${fmt(scores.taken_for)} · predicted ${fmt(scores.predicted)}`
  );
}

function views() {
  // [{title, cloud (b64), scores, kind}] of the chosen group, class and restart
  const g = group();
  const key = `${$("class").value}_${$("restart").value}`;
  const out = [];
  const starts = g.methods.filter((m) => g.starts[m][key]).map((m) => g.starts[m][key]);
  if (starts.length) {
    const same = starts.every((s) => s === starts[0]);
    const first = g.methods.find((m) => g.starts[m][key]);
    out.push({
      title: same ? "starting cloud" : `starting cloud (of ${first}; the others differ)`,
      cloud: starts[0],
      kind: "start",
    });
  }
  g.methods.forEach((m) =>
    out.push({ title: m, cloud: g.clouds[m][key], scores: g.scores[m][key], kind: "method" })
  );
  (DATA.real[$("class").value] || []).forEach((c, i) =>
    out.push({ title: `real object ${i + 1}`, cloud: c, kind: "real" })
  );
  return out;
}

function scene() {
  const axis = {
    range: [-DATA.scale, DATA.scale],
    showticklabels: false,
    title: { text: "" },
    showspikes: false,
  };
  return { camera, aspectmode: "cube", xaxis: axis, yaxis: axis, zaxis: axis };
}

function trace(cloud, kind) {
  const p = decode(cloud);
  const color = { start: "#888", method: p.y, real: "#3a7d3a" }[kind];
  return {
    type: "scatter3d",
    mode: "markers",
    x: p.x,
    y: p.y,
    z: p.z,
    marker: { size: 2, color, colorscale: "Viridis", cmin: -DATA.scale, cmax: DATA.scale },
    hoverinfo: "skip",
  };
}

function linkCamera(div) {
  div.on("plotly_relayout", (ev) => {
    if (syncing || !ev["scene.camera"]) return;
    camera = ev["scene.camera"];
    syncing = true;
    const others = [...document.querySelectorAll("#views .plot")].filter((d) => d !== div);
    Promise.all(others.map((d) => Plotly.relayout(d, { "scene.camera": camera }))).finally(
      () => (syncing = false)
    );
  });
}

function drawViews() {
  const box = $("views");
  const wanted = views();
  const cells = [...box.children];
  cells.slice(wanted.length).forEach((c) => {
    Plotly.purge(c.querySelector(".plot"));
    c.remove();
  }); // frees their WebGL contexts
  wanted.forEach((v, i) => {
    let cell = box.children[i];
    if (!cell) {
      cell = document.createElement("div");
      cell.innerHTML = '<div class="caption"></div><div class="plot"></div>';
      box.appendChild(cell);
    }
    cell.className = `view ${v.kind}`;
    cell.dataset.title = v.title;
    const cap = cell.querySelector(".caption");
    cap.innerHTML = `<b></b><br><span></span>`;
    cap.querySelector("b").textContent = v.title;
    cap.querySelector("span").textContent = v.kind === "method" ? caption(v.scores) : "";
    const div = cell.querySelector(".plot");
    const data = v.cloud ? [trace(v.cloud, v.kind)] : [];
    const layout = { margin: { l: 0, r: 0, t: 0, b: 0 }, scene: scene(), showlegend: false };
    const fresh = !div.classList.contains("js-plotly-plot");
    Plotly.react(div, data, layout, { displaylogo: false, responsive: false });
    if (fresh) linkCamera(div);
  });
  $("views-title").textContent =
    `Explanations: ${$("class").value}, restart ${$("restart").value} (${group().name})`;
  $("real-note").textContent = DATA.real_note;
}

function drawHistory() {
  const g = group();
  const key = `${$("class").value}_${$("restart").value}`;
  const box = $("history");
  box.querySelectorAll(".curve").forEach((d) => Plotly.purge(d));
  box.innerHTML = "";
  g.methods.forEach((m) => {
    const curves = (g.history[m] || {})[key];
    if (!curves) return;
    const div = document.createElement("div");
    div.className = "curve";
    box.appendChild(div);
    const traces = Object.entries(curves).map(([term, ys]) => ({
      type: "scatter",
      mode: "lines",
      name: term,
      y: ys,
    }));
    Plotly.newPlot(
      div,
      traces,
      {
        title: { text: m, font: { size: 13 } },
        margin: { l: 45, r: 10, t: 30, b: 30 },
        xaxis: { title: { text: "shown step" } },
        legend: { font: { size: 10 } },
      },
      { displaylogo: false }
    );
  });
  if (!box.children.length) box.textContent = "No history stored for this class.";
}

function drawClassScores() {
  const g = group();
  const key = `${$("class").value}_${$("restart").value}`;
  const names = new Set();
  g.methods.forEach((m) => Object.keys(g.scores[m][key] || {}).forEach((n) => names.add(n)));
  const cols = [...names];
  const table = document.createElement("table");
  table.className = "sortable";
  const head = table.createTHead().insertRow();
  ["method", ...cols].forEach((c) => {
    const th = document.createElement("th");
    th.textContent = c;
    head.appendChild(th);
  });
  const body = table.createTBody();
  g.methods.forEach((m) => {
    const s = g.scores[m][key];
    if (!s) return;
    const row = body.insertRow();
    row.insertCell().textContent = m;
    cols.forEach((c) => (row.insertCell().textContent = fmt(s[c], 4)));
  });
  $("class-scores").innerHTML = "";
  $("class-scores").appendChild(table);
  sortable(table);
}

function number(text) {
  // "12.5%", "+3%", "1.2e-03", "–" → a number (NaN sorts last)
  const v = parseFloat(text.replace(/[%×,+]/g, "").replace("−", "-"));
  return Number.isNaN(v) ? null : v;
}

function sortable(table) {
  const heads = [...table.querySelectorAll("thead th")];
  heads.forEach((th, col) =>
    th.addEventListener("click", () => {
      const down = th.classList.contains("asc");
      heads.forEach((h) => h.classList.remove("asc", "desc"));
      th.classList.add(down ? "desc" : "asc");
      const body = table.tBodies[0];
      const rows = [...body.rows];
      rows.sort((a, b) => {
        const x = a.cells[col].textContent, y = b.cells[col].textContent;
        const nx = number(x), ny = number(y);
        let c;
        if (nx !== null && ny !== null) c = nx - ny;
        else if (nx !== null || ny !== null) return nx === null ? 1 : -1;
        else c = x.localeCompare(y);
        return down ? -c : c;
      });
      rows.forEach((r) => body.appendChild(r));
    })
  );
}

function chooseClass() {
  const keys = keysOfClass(group(), $("class").value);
  const restarts = keys.map((k) => k.split("_").pop());
  const keep = $("restart").value;
  option($("restart"), restarts);
  if (restarts.includes(keep)) $("restart").value = keep;
  $("restart").disabled = restarts.length < 2;
  redraw();
}

function chooseGroup() {
  const keep = $("class").value;
  const names = classesOf(group());
  option($("class"), names);
  if (names.includes(keep)) $("class").value = keep;
  chooseClass();
}

function redraw() {
  drawViews();
  drawHistory();
  drawClassScores();
}

function staticParts() {
  DATA.tables.forEach((t) => {
    const h = document.createElement("h3");
    h.textContent = t.title;
    const div = document.createElement("div");
    div.innerHTML = t.html;
    $("tables").append(h, div);
  });
  if (!DATA.tables.length) $("tables-section").hidden = true;
  document.querySelectorAll("#tables table.sortable").forEach(sortable);
  DATA.pictures.forEach((p) => {
    const h = document.createElement("h3");
    h.textContent = p.title;
    $("pictures").appendChild(h);
    if (p.png) {
      const img = document.createElement("img");
      img.src = `data:image/png;base64,${p.png}`;
      img.alt = p.title;
      $("pictures").appendChild(img);
    }
  });
  if (!DATA.pictures.length) $("pictures-section").hidden = true;
  $("config").textContent = JSON.stringify(DATA.config, null, 2);
}

staticParts();
if (DATA.groups.length) {
  option(
    $("group"),
    DATA.groups.map((_, i) => i),
    DATA.groups.map((g) => g.name)
  );
  $("group").disabled = DATA.groups.length < 2;
  $("group").addEventListener("change", chooseGroup);
  $("class").addEventListener("change", chooseClass);
  $("restart").addEventListener("change", redraw);
  chooseGroup();
} else {
  // a folder of tables and pictures only (e.g. experiment realism)
  document.querySelectorAll(".explanations").forEach((e) => (e.hidden = true));
}
performance.mark("flowam-ready");
document.body.dataset.ready = "true";
