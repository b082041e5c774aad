// The card field of Stripe.js on the payment page: the card becomes a payment method id
// (pm_...) at Stripe, and only that id is posted to FactoryWeb, which then charges it.
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-button");
  function show(message) {
    errors.textContent = "";
    if (message) {
      var item = document.createElement("li");
      item.textContent = message;
      errors.appendChild(item);
    }
  }
  card.on("change", function (event) { show(event.error ? event.error.message : ""); });
  form.addEventListener("submit", function (event) {
    if (document.getElementById("payment_method").value) { return; }
    event.preventDefault();
    button.disabled = true;
    stripe.createPaymentMethod({ type: "card", card: card }).then(function (result) {
      if (result.error) {
        show(result.error.message);
        button.disabled = false;
        return;
      }
      document.getElementById("payment_method").value = result.paymentMethod.id;
      form.submit();
    });
  });
})();
