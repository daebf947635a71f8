// rareflow dashboard: plain DOM and fetch against the JSON API. Text from the server is put in
// with textContent only, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("rareflow-token") || "";
let shown = null; // the job whose figures are on screen

function say(text, error = true) {
  $("message").textContent = text || "";
  $("message").className = error ? "error" : "info";
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, Object.assign({}, options, {
    headers, body: options.body === undefined ? undefined : JSON.stringify(options.body),
  }));
  if (response.status === 401) {
    $("login").hidden = false;
    throw new Error("sign in with your token");
  }
  const type = response.headers.get("content-type") || "";
  const payload = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(describe(payload));
  return payload;
}

function describe(payload) {
  const detail = payload && payload.detail !== undefined ? payload.detail : payload;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("\n");
  }
  if (detail && detail.problems) return detail.problems.join("\n");
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

function cell(row, text, tag = "td") {
  const element = document.createElement(tag);
  element.textContent = text === null || text === undefined ? "" : String(text);
  row.appendChild(element);
  return element;
}

function fill(table, rows, columns) {
  table.replaceChildren();
  if (!rows.length) return;
  columns = columns || Object.keys(rows[0]);
  const head = table.createTHead().insertRow();
  columns.forEach((c) => cell(head, c, "th"));
  const body = table.createTBody();
  rows.forEach((r) => {
    const row = body.insertRow();
    columns.forEach((c) => cell(row, typeof r[c] === "number" ? round(r[c]) : r[c]));
  });
}

function round(x) {
  // four significant figures; small values keep their exponent (trace impurities matter)
  if (!isFinite(x)) return "";
  return Number.isInteger(x) ? x : Number(x.toPrecision(4));
}

function draw(container, figures, names) {
  const target = $(container);
  target.replaceChildren();
  (names || Object.keys(figures)).forEach((name) => {
    if (!figures[name]) return;
    const div = document.createElement("div");
    div.className = "figure";
    div.dataset.figure = name;
    target.appendChild(div);
    Plotly.newPlot(div, figures[name].data, figures[name].layout,
      { displaylogo: false, responsive: true });
  });
}

async function openHtml(path, body) {
  const options = body === undefined ? {} : { method: "POST", body };
  const html = await api(path, options);
  const url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
  window.open(url, "_blank");
}

// --- tabs and sign-in ---------------------------------------------------------------------------
document.querySelectorAll("#tabs button").forEach((button) => {
  button.addEventListener("click", () => {
    document.querySelectorAll("#tabs button").forEach((b) => b.classList.remove("active"));
    button.classList.add("active");
    document.querySelectorAll(".tab").forEach((s) => { s.hidden = s.id !== button.dataset.tab; });
  });
});

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("rareflow-token", token);
  $("login").hidden = true;
  start();
});

// --- scenarios and jobs -------------------------------------------------------------------------
async function loadScenarios() {
  const names = await api("/api/scenarios");
  const select = $("scenario");
  select.replaceChildren();
  names.own.concat(names.builtin).forEach((name) => {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    select.appendChild(option);
  });
}

$("load-scenario").addEventListener("click", async () => {
  const name = $("scenario").value;
  const found = await api(`/api/scenarios/${encodeURIComponent(name)}`).catch((e) => say(e.message));
  if (!found) return;
  const horizon = found.scenario.horizon;
  $("scenario-yaml").value = found.yaml ||
    `name: my-${name}\nextends: ${name}\nhorizon: {start: ${horizon.start}, end: ${horizon.end}}\n` +
    "# add or change levers, projects, demand growth (docs/simulate.md), e.g.\n" +
    "# levers:\n#   - {id: my_ban, start: 2027, end: 2029, levers: {bans: [...]}}\n";
  $("scenario-name").value = found.own ? name : `my-${name}`;
  $("editor").open = true;
});

async function scenarioCall(path, body) {
  $("problems").replaceChildren();
  try {
    const result = await api(path, { method: "POST", body });
    say(result.saved ? `saved ${result.name}` : (result.valid ? "valid" : ""), false);
    (result.problems || []).forEach((p) => cell($("problems"), p, "li"));
    if (result.saved) await loadScenarios();
  } catch (error) {
    error.message.split("\n").forEach((p) => cell($("problems"), p, "li"));
  }
}

$("scenario-file").addEventListener("change", async () => {
  const file = $("scenario-file").files[0];
  if (!file) return;
  $("scenario-yaml").value = await file.text();
  $("scenario-name").value = file.name.replace(/\.ya?ml$/, "").toLowerCase();
});

$("validate").addEventListener("click", () =>
  scenarioCall("/api/scenarios/validate", { document: $("scenario-yaml").value }));
$("save").addEventListener("click", () =>
  scenarioCall("/api/scenarios", { name: $("scenario-name").value, document: $("scenario-yaml").value }));

const list = (id) => $(id).value.split(",").map((x) => x.trim()).filter(Boolean);
const number = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));

function leverBlock() {
  const kind = $("lever-kind").value, id = $("lever-id").value.trim();
  const lever = { id: `${id}_1` };
  if (kind === "floors") {
    Object.assign(lever, { plants: list("lever-plants"), elements: list("lever-elements"),
      floor_usd_per_kg: number("lever-value"), volume_t: number("lever-volume") });
  } else {
    Object.assign(lever, { elements: list("lever-elements"), origin: list("lever-origin") });
    if (list("lever-destination").length) lever.destination = list("lever-destination");
    const field = { quotas: "limit_t", export_taxes: "rate_pct", licences: "refused_share",
      tariffs: "rate_pct" }[kind];
    if (field) lever[field] = number("lever-value");
  }
  const block = { id, start: number("lever-start"), probability: number("lever-probability"),
    levers: { [kind]: [lever] } };
  if (number("lever-end") !== null) block.end = number("lever-end");
  if (number("lever-announced") !== null) block.announced = number("lever-announced");
  return block;
}

$("add-lever").addEventListener("click", async () => {
  $("problems").replaceChildren();
  try {
    const result = await api("/api/scenarios/add-lever", { method: "POST",
      body: { document: $("scenario-yaml").value, block: leverBlock() } });
    $("scenario-yaml").value = result.document;
    say(`added lever block ${$("lever-id").value}; validate or save the scenario`, false);
  } catch (error) {
    error.message.split("\n").forEach((p) => cell($("problems"), p, "li"));
  }
});

$("run").addEventListener("click", async () => {
  try {
    const job = await api("/api/jobs", { method: "POST", body: {
      scenario: $("scenario").value, runs: Number($("runs-count").value), seed: Number($("seed").value),
    } });
    say(`job ${job.id} queued`, false);
    refreshJobs();
  } catch (error) { say(error.message); }
});

async function refreshJobs() {
  let jobs;
  try { jobs = await api("/api/jobs"); } catch (error) { return; }
  const body = $("jobs").tBodies[0];
  body.replaceChildren();
  jobs.slice().reverse().forEach((job) => {
    const row = body.insertRow();
    row.dataset.job = job.id;
    row.dataset.state = job.state;
    cell(row, job.id);
    cell(row, job.scenario);
    cell(row, job.runs);
    cell(row, job.state).title = job.error || "";
    const bar = document.createElement("progress");
    bar.max = 1; bar.value = job.progress;
    row.insertCell().appendChild(bar);
    cell(row, job.ensemble);
    const actions = row.insertCell();
    const button = (text, action) => {
      const b = document.createElement("button");
      b.textContent = text; b.addEventListener("click", action); actions.appendChild(b);
    };
    if (job.state === "queued" || job.state === "running") {
      button("Cancel", () => api(`/api/jobs/${job.id}`, { method: "DELETE" }).then(refreshJobs));
    }
    if (job.state === "done") {
      button("Show", () => showJob(job.id));
      button("Report", () => openHtml(`/api/jobs/${job.id}/report`).catch((e) => say(e.message)));
    }
    if (job.state === "failed") say(`job ${job.id} failed: ${job.error}`);
  });
  ["compare-a", "compare-b"].forEach((id) => {
    const select = $(id), current = select.value;
    select.replaceChildren();
    jobs.filter((j) => j.state === "done").forEach((j) => {
      const option = document.createElement("option");
      option.value = j.id; option.textContent = `${j.scenario} (${j.id})`;
      select.appendChild(option);
    });
    if (current) select.value = current;
  });
}

async function showJob(id) {
  try {
    const figures = await api(`/api/jobs/${id}/figures`);
    shown = id;
    draw("job-figures", figures);
  } catch (error) { say(error.message); }
}

$("compare-go").addEventListener("click", async () => {
  try {
    draw("compare-figures", await api(`/api/jobs/${$("compare-a").value}/compare/${$("compare-b").value}`));
  } catch (error) { say(error.message); }
});

// --- cascades -----------------------------------------------------------------------------------
$("design").addEventListener("click", async () => {
  try {
    const design = await api("/api/cascade/design", { method: "POST", body: {
      feed: $("feed").value, purity: Number($("purity").value), ratio_to_min: Number($("ratio").value),
    } });
    const rows = Object.entries(design).filter(([, v]) => typeof v !== "object")
      .map(([k, v]) => ({ quantity: k, value: v }));
    fill($("design-table"), rows);
    say("");
  } catch (error) { say(error.message); }
});

$("simulate").addEventListener("click", async () => {
  try {
    const result = await api("/api/cascade/simulate", { method: "POST", body: { document: $("cascade-yaml").value } });
    fill($("cascade-table"), result.products || []);
    // how it was solved, and what the result means (S below S_min, a profile the equations
    // leave undetermined): the same notes as the command line's
    const solver = result.solver || {};
    $("cascade-notes").textContent = [
      `solver: ${solver.method}, ${solver.iterations} iterations, residual ${Number(solver.residual).toExponential(1)}`,
      ...(result.warnings || []).map((w) => `warning: ${w}`),
    ].join("\n");
    draw("cascade-figures", result.figures);
    say("");
  } catch (error) { say(error.message); }
});

// --- compliance ---------------------------------------------------------------------------------
$("bom-file").addEventListener("change", async () => {
  const file = $("bom-file").files[0];
  if (file) $("bom-yaml").value = await file.text();
});

function bomRequest() {
  const body = { document: $("bom-yaml").value };
  if ($("bom-date").value) body.date = $("bom-date").value;
  if ($("bom-destination").value) body.destination = $("bom-destination").value.toUpperCase();
  return body;
}

$("check").addEventListener("click", async () => {
  try {
    const result = await api("/api/comply", { method: "POST", body: bomRequest() });
    fill($("verdicts"), result.verdicts.map((v) => ({
      shipment: v.shipment, item: v.item, route: `${v.exporter_country} → ${v.destination}`,
      date: v.date, China: v.china.verdict, EAR: v.ear.verdict,
      limbs: v.china.limbs.filter((l) => l.hit).map((l) => l.limb).join(", "),
      review: v.china.review.length ? "yes" : "",
    })));
    $("audit").textContent = `audit SHA-256 ${result.audit_sha256}`;
    draw("bom-figures", result.figures);
    say("");
  } catch (error) { say(error.message); }
});
$("check-report").addEventListener("click", () =>
  openHtml("/api/comply/report", bomRequest()).catch((e) => say(e.message)));

// --- data ---------------------------------------------------------------------------------------
async function loadTables() {
  const tables = await api("/api/dataset/tables");
  const select = $("table-name");
  select.replaceChildren();
  tables.filter((t) => !["policies", "country_groups"].includes(t.name)).forEach((t) => {
    const option = document.createElement("option");
    option.value = t.name; option.textContent = `${t.name} (${t.rows})`;
    select.appendChild(option);
  });
  select.value = "facilities";
}

$("show-table").addEventListener("click", async () => {
  try {
    const page = await api(`/api/dataset/tables/${encodeURIComponent($("table-name").value)}?limit=500`);
    fill($("table-rows"), page.rows);
  } catch (error) { say(error.message); }
});

$("show-source").addEventListener("click", async () => {
  try {
    const s = await api(`/api/dataset/sources/${encodeURIComponent($("source-id").value.trim())}`);
    const target = $("source");
    target.replaceChildren();
    const text = document.createElement("p");
    text.textContent = `${s.title}. ${s.publisher}, ${s.year} (${s.quality}). ${s.note || ""} `;
    if (s.url) {
      const link = document.createElement("a");
      link.href = s.url; link.textContent = s.url; link.rel = "noopener";
      text.appendChild(link);
    }
    target.appendChild(text);
  } catch (error) { say(error.message); }
});

// --- start --------------------------------------------------------------------------------------
let timer = null;
async function start() {
  try {
    const session = await (await fetch("/api/session")).json();
    if (session.tokens_required && !token) {
      $("login").hidden = false;
      say("sign in with your token", false);
      return;
    }
    await api("/api/health");
    await Promise.all([loadScenarios(), loadTables()]);
    await refreshJobs();
    if (!timer) timer = setInterval(refreshJobs, 1000);
    say("");
  } catch (error) { say(error.message); }
}
start();
