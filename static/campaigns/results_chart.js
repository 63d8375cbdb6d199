// Campaign results: targeted vs holdout bars (Chart.js from static/vendor, no CDN).
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var dataEl = document.getElementById("campaign-chart-data");
    var canvas = document.getElementById("campaign-chart");
    if (!dataEl || !canvas || typeof Chart === "undefined") { return; }
    var data = JSON.parse(dataEl.textContent);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.targeted_label, data: data.targeted, backgroundColor: "#7c3aed" },
          { label: data.holdout_label, data: data.holdout, backgroundColor: "#9ca3af" }
        ]
      },
      options: { animation: false, scales: { y: { beginAtZero: true } } }
    });
    var burnCanvas = document.getElementById("campaign-burn");
    if (burnCanvas && data.burn && data.burn.length) {
      var datasets = [{
        label: data.burn_label,
        data: data.burn.map(function (p) { return p.points; }),
        borderColor: "#7c3aed",
        stepped: true
      }];
      if (data.budget !== null) {
        datasets.push({
          label: data.budget_label,
          data: data.burn.map(function () { return data.budget; }),
          borderColor: "#dc2626",
          borderDash: [6, 4],
          pointRadius: 0
        });
      }
      new Chart(burnCanvas, {
        type: "line",
        data: { labels: data.burn.map(function (p) { return p.day; }), datasets: datasets },
        options: { animation: false, scales: { y: { beginAtZero: true } } }
      });
    }
  });
})();
