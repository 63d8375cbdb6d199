/* Keyboard help for the clerk screen (the page works without it):
   F2 or "/"  jump to the search box (on every page);
   Esc        in the search box: clear it;
   Arrow down in the search box: move to the first result; up/down move between results;
   a form sends once: its button is disabled after the first press (double taps, bouncing keys).
   The server is the real guard: every form carries a one-off token. */
(function () {
  "use strict";

  function searchBox() {
    return document.querySelector("[data-search-box]");
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    var box = searchBox();
    if (!box) return;
    if (event.key === "F2" || (event.key === "/" && !typing(event.target))) {
      event.preventDefault();
      box.focus();
      box.select();
      return;
    }
    if (event.target === box && event.key === "Escape") {
      box.value = "";
      var results = document.getElementById("results");
      if (results) results.innerHTML = "";
      return;
    }
    var links = Array.prototype.slice.call(document.querySelectorAll("#results a.result"));
    if (!links.length) return;
    var index = links.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && (event.target === box || index >= 0)) {
      event.preventDefault();
      links[Math.min(index + 1, links.length - 1)].focus();
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      if (index === 0) box.focus(); else links[index - 1].focus();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-once")) return;
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    var button = form.querySelector("[type=submit]");
    if (button) setTimeout(function () { button.disabled = true; }, 0);
  });

  // After an action, bring its confirmation into view for screen readers and the eye.
  document.addEventListener("DOMContentLoaded", function () {
    var result = document.getElementById("result");
    if (result && location.hash === "#result") result.scrollIntoView({ block: "nearest" });
  });
})();

// Coming back with the browser's Back button: the forms may be sent again (their tokens
// still stop a second effect on the server).
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) return;
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    delete form.dataset.sent;
    var button = form.querySelector("[type=submit]");
    if (button) button.disabled = false;
  });
});
