// Starts Swagger UI on the API documentation page (no inline script: the CSP forbids it).
// "Try it out" from a signed-in browser carries the session cookie, so it carries the
// page's CSRF token too, as every other write of this site does.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  var token = document.querySelector('meta[name="csrf-token"]');
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    // A deep link is an anchor inside the summary button: a control nested in a control,
    // which screen readers cannot reach.
    deepLinking: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (request) {
      if (token && request.method && request.method.toUpperCase() !== "GET") {
        request.headers["X-CSRFToken"] = token.content;
      }
      return request;
    },
  });
});
