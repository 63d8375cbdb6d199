// Segment editor: posts the conditions being edited to the preview URL and shows the count
// and a sample of members, without saving. No inline script (CSP): loaded from static/.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var box = document.getElementById("segment-live");
    if (!box) { return; }
    var form = box.closest("form");
    var countEl = document.getElementById("segment-live-count");
    var errorsEl = document.getElementById("segment-live-errors");
    var sampleEl = document.getElementById("segment-live-sample");
    var timer = null;
    function refresh() {
      var data = new FormData(form);
      fetch(box.dataset.url, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (result) {
          errorsEl.textContent = "";
          (result.errors || []).forEach(function (message) {
            var li = document.createElement("li");
            li.textContent = message;
            errorsEl.appendChild(li);
          });
          if (result.count === null || result.count === undefined) {
            countEl.textContent = "–";
            sampleEl.textContent = "";
          } else {
            countEl.textContent = result.count + " " + (result.label || "");
            countEl.setAttribute("data-count", String(result.count));
            sampleEl.textContent = (result.sample || []).join(", ");
          }
        })
        .catch(function () { countEl.textContent = "–"; });
    }
    function later() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 300);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    refresh();
  });
})();
