// Actions that cannot be undone ask first: a form with data-confirm="question" is sent
// only when the person says yes. A script file, not inline script, so the CSP stays strict;
// without script the form is sent as before.
document.addEventListener(
  "submit",
  function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true
);
