/* Tag inputs: a text box with data-tags="1" becomes chips; the box keeps "a, b, c" for the form. */
(function () {
  "use strict";
  function split(text) {
    return text.split(/[,\n]/).map(function (t) { return t.trim(); }).filter(Boolean);
  }
  function enhance(input) {
    if (input.dataset.tagsReady) return;
    input.dataset.tagsReady = "1";
    var box = document.createElement("div");
    box.className = "bo-tags";
    var chips = document.createElement("span");
    chips.className = "bo-tag-list";
    var typer = document.createElement("input");
    typer.type = "text";
    typer.className = "bo-tag-typer " + (input.className || "");
    typer.placeholder = input.getAttribute("placeholder") || "Type and press Enter";
    typer.setAttribute("aria-label", (input.labels && input.labels[0] ? input.labels[0].textContent : input.name) + " (add)");
    typer.id = input.id + "_typer";
    input.type = "hidden";
    input.parentNode.insertBefore(box, input);
    box.appendChild(chips);
    box.appendChild(typer);
    box.appendChild(input);
    if (input.labels) { for (var i = 0; i < input.labels.length; i++) input.labels[i].htmlFor = typer.id; }
    var tags = split(input.value);
    function render() {
      chips.textContent = "";
      tags.forEach(function (tag, index) {
        var chip = document.createElement("span");
        chip.className = "bo-tag";
        chip.textContent = tag;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "bo-tag-remove";
        remove.setAttribute("aria-label", "Remove " + tag);
        remove.textContent = "\u00d7";
        remove.addEventListener("click", function () { tags.splice(index, 1); render(); });
        chip.appendChild(remove);
        chips.appendChild(chip);
      });
      input.value = tags.join(", ");
    }
    function add() {
      split(typer.value).forEach(function (tag) { if (tags.indexOf(tag) < 0) tags.push(tag); });
      typer.value = "";
      render();
    }
    typer.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === ",") { event.preventDefault(); add(); }
      else if (event.key === "Backspace" && !typer.value && tags.length) { tags.pop(); render(); }
    });
    typer.addEventListener("blur", add);
    var form = input.form;
    if (form) form.addEventListener("submit", add);
    render();
  }
  function init() { document.querySelectorAll("input[data-tags]").forEach(enhance); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
