// The ERP console: plain JavaScript, no framework, no CDN. Every call to a
// service goes through the console's own server (/svc/<service>/...), which
// forwards it; live events come from its /api/events stream.
"use strict";

const $ = (selector) => document.querySelector(selector);

function stored(id) {
  const input = $(id);
  input.value = sessionStorage.getItem(id) || "";
  input.addEventListener("change", () => sessionStorage.setItem(id, input.value));
  return () => input.value.trim();
}
const apiToken = stored("#api-token");
const adminToken = stored("#admin-token");

/** Calls `service` through the console's forwarder; resolves to {status, body, text}. */
async function call(service, method, path, body, token = apiToken()) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`/svc/${service}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

function show(pre, result) {
  pre.hidden = false;
  pre.className = "result " + (result.status < 400 ? "ok" : "refused");
  const shown = result.body === null ? result.text : JSON.stringify(result.body, null, 2);
  pre.textContent = `${result.status}\n${shown}`;
}

// ---- stock -------------------------------------------------------------

async function refreshStock() {
  const result = await call("inventory", "GET", "/stock");
  if (result.status !== 200 || !Array.isArray(result.body)) return;
  const rows = result.body.slice().sort((a, b) =>
    a.store_id.localeCompare(b.store_id) || a.product_id.localeCompare(b.product_id));
  const tbody = $("#stock tbody");
  tbody.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.store = row.store_id;
    tr.dataset.product = row.product_id;
    for (const value of [row.store_id, row.product_id, row.on_hand, row.updated_at ?? ""]) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    if (row.on_hand < 0) tr.className = "negative";
    return tr;
  }));
  $("#stock-empty").hidden = rows.length > 0;
  drawChart(rows);
}

function drawChart(rows) {
  const svg = $("#stock-chart");
  const ns = "http://www.w3.org/2000/svg";
  const barHeight = 18, gap = 6, labelWidth = 220, width = 640;
  const max = Math.max(1, ...rows.map((r) => Math.abs(r.on_hand)));
  svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(1, rows.length) * (barHeight + gap)}`);
  svg.replaceChildren(...rows.flatMap((row, i) => {
    const y = i * (barHeight + gap);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", 0);
    label.setAttribute("y", y + barHeight - 4);
    label.textContent = `${row.store_id} / ${row.product_id}`;
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", labelWidth);
    bar.setAttribute("y", y);
    bar.setAttribute("height", barHeight);
    bar.setAttribute("width", Math.max(1, (Math.abs(row.on_hand) / max) * (width - labelWidth - 60)));
    bar.setAttribute("class", row.on_hand < 0 ? "bar negative" : "bar");
    const value = document.createElementNS(ns, "text");
    value.setAttribute("x", labelWidth + Number(bar.getAttribute("width")) + 6);
    value.setAttribute("y", y + barHeight - 4);
    value.textContent = row.on_hand;
    return [label, bar, value];
  }));
}

// ---- live events --------------------------------------------------------

function describe(event) {
  const d = event.data || {};
  const lines = (d.lines || []).map((l) => `${l.quantity} × ${l.product_id}`).join(", ");
  switch (event.type) {
    case "purchase.completed": return `purchase ${d.purchase_id} into ${d.store_id}: ${lines}`;
    case "sale.completed": return `sale ${d.sale_id} from ${d.store_id}: ${lines}`;
    case "stock.changed":
      return `${d.store_id} / ${d.product_id}: ${d.delta > 0 ? "+" : ""}${d.delta} → ${d.on_hand}`;
    default: return JSON.stringify(d);
  }
}

function addEvent(event) {
  const li = document.createElement("li");
  li.dataset.type = event.type;
  const time = document.createElement("time");
  time.textContent = (event.occurred_at || "").replace("T", " ").slice(0, 19);
  const type = document.createElement("strong");
  type.textContent = event.type;
  const text = document.createElement("span");
  text.textContent = describe(event);
  li.append(time, " ", type, " ", text);
  const list = $("#events");
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
}

let stockTimer = null;
function stockSoon() {
  clearTimeout(stockTimer);
  stockTimer = setTimeout(refreshStock, 150);
}

function listen() {
  const source = new EventSource("/api/events");
  source.onopen = () => { $("#live").textContent = "live"; $("#live").className = "pill up"; };
  source.onerror = () => { $("#live").textContent = "reconnecting…"; $("#live").className = "pill down"; };
  source.onmessage = (message) => {
    addEvent(JSON.parse(message.data));
    stockSoon();
  };
}

// ---- resilience ------------------------------------------------------------

async function refreshStatus() {
  let status;
  try {
    const response = await fetch("/api/status");
    status = await response.json();
  } catch { return; }
  $("#breaker").textContent = status.breaker ?? "unknown";
  $("#breaker").className = `state ${status.breaker}`;
  $("#retries").textContent = status.retries ?? "unknown";
  const tbody = $("#dead-letters tbody");
  tbody.replaceChildren(...status.dead_letters.map((d) => {
    const tr = document.createElement("tr");
    for (const value of [d.service, d.queue, d.waiting]) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.textContent = "Redrive";
    button.disabled = d.waiting === 0;
    button.onclick = async () => {
      const result = await call(d.service, "POST",
        `/admin/dead-letters/${encodeURIComponent(d.queue)}/redrive`, undefined, adminToken());
      show($("#redrive-result"), result);
      refreshStatus();
    };
    td.append(button);
    tr.append(td);
    return tr;
  }));
}

// ---- forms ------------------------------------------------------------------

function formBody(form) {
  const data = Object.fromEntries(new FormData(form));
  const numbers = ["quantity", "unit_price", "capacity"];
  const clean = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === "") continue;
    clean[key] = numbers.includes(key) ? Number(value) : value;
  }
  if (!("product_id" in clean)) return clean;
  const { product_id, quantity, unit_price, ...document } = clean;
  return { ...document, lines: [{ product_id, quantity, unit_price }] };
}

for (const form of document.querySelectorAll("#forms-section form")) {
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const result = await call(form.dataset.service, "POST", form.dataset.path, formBody(form));
    show($("#form-result"), result);
    stockSoon();
  });
}

// ---- API explorer -------------------------------------------------------------

let operation = null;

async function loadOperations() {
  const service = $("#explorer-service").value;
  const result = await call(service, "GET", "/openapi.json");
  const list = $("#operations");
  list.replaceChildren();
  $("#explorer-form").hidden = true;
  if (result.status !== 200 || !result.body) return;
  for (const [path, item] of Object.entries(result.body.paths || {})) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      if (!item[method]) continue;
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `method ${method}`;
      button.textContent = `${method.toUpperCase()} ${path}`;
      button.onclick = () => choose(service, path, method, item[method], item.parameters || []);
      li.append(button, " ", item[method].summary || "");
      list.append(li);
    }
  }
}

function choose(service, path, method, op, shared) {
  operation = { service, path, method, parameters: [...shared, ...(op.parameters || [])] };
  $("#operation-title").textContent = `${method.toUpperCase()} ${path}`;
  $("#operation-summary").textContent = op.description || op.summary || "";
  const params = $("#operation-params");
  params.replaceChildren(...operation.parameters
    .filter((p) => p.in === "path" || p.in === "query")
    .map((p) => {
      const label = document.createElement("label");
      label.textContent = `${p.name} (${p.in}${p.required ? ", required" : ""}) `;
      const input = document.createElement("input");
      input.name = p.name;
      input.dataset.in = p.in;
      input.required = Boolean(p.required);
      label.append(input);
      return label;
    }));
  const hasBody = Boolean(op.requestBody);
  $("#operation-body-label").hidden = !hasBody;
  $("#operation-body").value = hasBody ? "{}" : "";
  $("#explorer-form").hidden = false;
}

$("#explorer-form").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  let path = operation.path;
  const query = new URLSearchParams();
  for (const input of $("#operation-params").querySelectorAll("input")) {
    if (input.dataset.in === "path") path = path.replace(`{${input.name}}`, encodeURIComponent(input.value));
    else if (input.value !== "") query.append(input.name, input.value);
  }
  const q = query.toString();
  const body = $("#operation-body-label").hidden ? undefined : $("#operation-body").value;
  const result = await call(operation.service, operation.method.toUpperCase(), q ? `${path}?${q}` : path, body);
  show($("#explorer-result"), result);
  stockSoon();
});
$("#explorer-service").addEventListener("change", loadOperations);

// ---- start ----------------------------------------------------------------------

refreshStock();
refreshStatus();
setInterval(refreshStatus, 2000);
listen();
loadOperations();
