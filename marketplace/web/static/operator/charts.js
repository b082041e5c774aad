// Draws every chart of an operator page: an element with class "chart" carries its
// Plotly figure as JSON in data-figure (no inline script under the site's CSP).
(function () {
  "use strict";
  function draw() {
    if (typeof Plotly === "undefined") { return; }
    var charts = document.querySelectorAll(".chart[data-figure]");
    Array.prototype.forEach.call(charts, function (element) {
      if (element.dataset.drawn) { return; }
      var figure = JSON.parse(element.dataset.figure);
      element.dataset.drawn = "1";
      Plotly.newPlot(element, figure.data, figure.layout, {
        displayModeBar: false,
        responsive: true
      });
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
