/* KPI dashboard: fetches the figures for the chosen period and store, draws the cards, the
   charts (Chart.js, served from static/vendor) and the cohort heat map, and keeps the CSV links
   on the same filters. No inline script: the page's CSP allows only this site's files. */
(function () {
  "use strict";
  const root = document.getElementById("kpi-dashboard");
  if (!root) return;
  const form = document.getElementById("dashboard-filters");
  const text = root.dataset;
  const charts = {};
  let latest = 0; // only the answer to the latest request is drawn (filters change quickly)
  const locale = document.documentElement.lang || undefined;

  function params() {
    const data = new FormData(form);
    const query = new URLSearchParams();
    for (const [key, value] of data.entries()) {
      if (value) query.set(key, value);
    }
    return query;
  }

  function formatValue(card, currency) {
    const value = card.value;
    if (value === null || value === undefined) return "–";
    const number = Number(value);
    if (card.format === "percent") return (number * 100).toLocaleString(locale, { maximumFractionDigits: 1 }) + " %";
    if (card.format === "money") return number.toLocaleString(locale, { style: "currency", currency: currency });
    return number.toLocaleString(locale);
  }

  function drawCards(data) {
    const box = document.getElementById("kpi-cards");
    box.replaceChildren();
    for (const card of data.cards) {
      const el = document.createElement("div");
      el.className = "border rounded p-4 kpi-card";
      el.dataset.key = card.key;
      const label = document.createElement("div");
      label.className = "text-sm text-gray-500";
      label.textContent = card.label;
      const value = document.createElement("div");
      value.className = "text-2xl font-semibold kpi-value";
      value.textContent = formatValue(card, data.currency);
      const change = document.createElement("div");
      change.className = "text-xs kpi-change";
      if (card.change_percent === null) {
        change.textContent = "– " + text.vs;
      } else {
        const n = Number(card.change_percent);
        change.textContent = (n > 0 ? "+" : "") + n.toLocaleString(locale) + " % " + text.vs;
        change.classList.add(n >= 0 ? "text-green-700" : "text-red-700");
      }
      el.append(label, value, change);
      box.append(el);
    }
  }

  function chart(id, type, labels, datasets, options) {
    const existing = charts[id];
    if (existing) {
      existing.data.labels = labels;
      existing.data.datasets = datasets;
      existing.update();
      return existing;
    }
    charts[id] = new window.Chart(document.getElementById(id), {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: Object.assign({ responsive: true, animation: false }, options || {}),
    });
    return charts[id];
  }

  function drawHeatmap(rows) {
    const table = document.getElementById("cohort-heatmap");
    table.replaceChildren();
    if (!rows.length) {
      const row = table.insertRow();
      row.insertCell().textContent = text.noData;
      return;
    }
    const width = Math.max(...rows.map((r) => r.retention.length));
    const head = table.createTHead().insertRow();
    const first = document.createElement("th");
    first.className = "p-1 text-left";
    first.textContent = "";
    head.append(first);
    const size = document.createElement("th");
    size.className = "p-1";
    size.textContent = text.members;
    head.append(size);
    for (let i = 0; i < width; i++) {
      const th = document.createElement("th");
      th.className = "p-1";
      th.textContent = "+" + i;
      head.append(th);
    }
    const body = table.createTBody();
    for (const cohort of rows) {
      const row = body.insertRow();
      row.insertCell().textContent = cohort.cohort;
      row.insertCell().textContent = cohort.members;
      cohort.retention.forEach((share) => {
        const cell = row.insertCell();
        const value = share === null ? 0 : Number(share);
        cell.textContent = share === null ? "" : Math.round(value * 100) + " %";
        cell.className = "p-1 text-center heat-cell";
        cell.style.backgroundColor = "rgba(37, 99, 235, " + Math.min(1, 0.08 + value).toFixed(2) + ")";
        if (value > 0.5) cell.style.color = "white";
      });
    }
  }

  function drawCharts(data) {
    chart("chart-tiers", "bar", data.tiers.labels, [{ label: text.members, data: data.tiers.values, backgroundColor: "#2563eb" }]);
    chart("chart-earn-burn", "line", data.earn_burn.labels, [
      { label: text.issued, data: data.earn_burn.issued, borderColor: "#16a34a", backgroundColor: "#16a34a" },
      { label: text.redeemed, data: data.earn_burn.redeemed, borderColor: "#dc2626", backgroundColor: "#dc2626" },
      { label: text.expired, data: data.earn_burn.expired, borderColor: "#9ca3af", backgroundColor: "#9ca3af" },
    ]);
    chart("chart-active", "bar", data.active.labels, [{ label: text.active, data: data.active.values, backgroundColor: "#7c3aed" }]);
    chart("chart-rewards", "bar", data.top_rewards.labels, [{ label: text.redemptions, data: data.top_rewards.values, backgroundColor: "#ea580c" }], { indexAxis: "y" });
    document.getElementById("campaign-results").textContent = data.campaigns.available ? "" : data.campaigns.reason;
    drawHeatmap(data.cohorts);
  }

  function updateLinks(query) {
    for (const link of document.querySelectorAll("#csv-links a[data-table]")) {
      link.href = text.csvUrl.replace("TABLE", link.dataset.table) + "?" + query.toString();
    }
  }

  async function load() {
    const query = params();
    const ticket = ++latest;
    updateLinks(query);
    root.dataset.state = "loading";
    const error = document.getElementById("dashboard-error");
    error.hidden = true;
    try {
      const response = await fetch(text.url + "?" + query.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      if (ticket !== latest) return;
      drawCards(data);
      drawCharts(data);
      root.dataset.filters = query.toString();
      root.dataset.renders = String(Number(root.dataset.renders) + 1);
      root.dataset.state = "ready";
    } catch (exc) {
      if (ticket !== latest) return;
      error.textContent = text.loadError;
      error.hidden = false;
      root.dataset.state = "error";
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = params();
    window.history.replaceState(null, "", "?" + query.toString());
    load();
  });
  for (const input of form.querySelectorAll("input, select")) {
    input.addEventListener("change", () => form.requestSubmit());
  }
  load();
})();
