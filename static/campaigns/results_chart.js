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
  });
})();
