// A text field's limit, counted as one types: the hint under a field with a maximum
// length ("At most 200 characters.") becomes "12 of 200 characters". A script file, not
// inline script, so the CSP stays strict; without script the hint stays as it is.
(function () {
  "use strict";

  function count(hint) {
    var field = document.getElementById(hint.getAttribute("data-counter-for"));
    var template = hint.getAttribute("data-counting");
    if (!field || !template) return;
    function update() {
      hint.textContent = template.replace("{used}", String(field.value.length));
    }
    field.addEventListener("input", update);
    if (field.value.length) update();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-counter-for]"), count);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
