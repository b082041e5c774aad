// The place picker: a city field that suggests cities as one types (from /places/cities)
// and, once one is chosen, fills the country, latitude and longitude; and a world map
// (the inhabited world drawn as dots, from /places/map.json) where a click picks the
// nearest city, or the point itself. A script file, not inline script, so the CSP stays
// strict; without script the fields are typed by hand and the server checks the city.
(function () {
  "use strict";

  function byId(id) {
    return id ? document.getElementById(id) : null;
  }

  function setValue(field, value) {
    if (!field) return;
    field.value = value;
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function picker(box) {
    var city = byId(box.getAttribute("data-city"));
    var country = byId(box.getAttribute("data-country"));
    var latitude = byId(box.getAttribute("data-latitude"));
    var longitude = byId(box.getAttribute("data-longitude"));
    var list = byId(box.getAttribute("data-list"));
    var status = box.querySelector(".place-status");
    var canvas = box.querySelector("canvas.place-map");
    var offered = {};
    var timer = null;

    function say(text) {
      if (status) status.textContent = text || "";
    }

    function choose(place) {
      setValue(city, place.name);
      if (country) setValue(country, place.country);
      setValue(latitude, place.latitude);
      setValue(longitude, place.longitude);
      say(place.label);
      draw();
    }

    function suggest() {
      var text = city.value.trim();
      if (offered[city.value]) {
        choose(offered[city.value]);
        return;
      }
      if (text.length < 2) return;
      fetch("/places/cities?limit=12&q=" + encodeURIComponent(text), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (r) {
          return r.ok ? r.json() : [];
        })
        .then(function (places) {
          offered = {};
          list.textContent = "";
          places.forEach(function (place) {
            var option = document.createElement("option");
            option.value = place.label;
            offered[place.label] = place;
            list.appendChild(option);
          });
        })
        .catch(function () {});
    }

    if (city && list) {
      city.addEventListener("input", function () {
        if (offered[city.value]) {
          choose(offered[city.value]);
          return;
        }
        clearTimeout(timer);
        timer = setTimeout(suggest, 150);
      });
    }

    // The map: equirectangular, x from 180° W to 180° E, y from 90° N to 90° S.
    var cells = null;
    var degrees = 1;

    function draw() {
      if (!canvas || !cells) return;
      var context = canvas.getContext("2d");
      var w = canvas.width;
      var h = canvas.height;
      var size = (w / 360) * degrees;
      context.clearRect(0, 0, w, h);
      context.fillStyle = "#9aa7b4";
      cells.forEach(function (cell) {
        context.fillRect(cell[0] * size, cell[1] * size, Math.max(1, size - 0.5), Math.max(1, size - 0.5));
      });
      var lat = parseFloat(latitude && latitude.value);
      var lon = parseFloat(longitude && longitude.value);
      if (!isNaN(lat) && !isNaN(lon)) {
        var x = ((lon + 180) / 360) * w;
        var y = ((90 - lat) / 180) * h;
        context.fillStyle = "#c0392b";
        context.beginPath();
        context.arc(x, y, 4, 0, 2 * Math.PI);
        context.fill();
      }
    }

    if (canvas) {
      fetch("/places/map.json", { credentials: "same-origin" })
        .then(function (r) {
          return r.json();
        })
        .then(function (data) {
          cells = data.cells;
          degrees = data.degrees;
          canvas.hidden = false;
          draw();
        })
        .catch(function () {});
      canvas.addEventListener("click", function (event) {
        // Inside the border: offsetX/Y and clientWidth/Height leave it out.
        var lon = (event.offsetX / canvas.clientWidth) * 360 - 180;
        var lat = 90 - (event.offsetY / canvas.clientHeight) * 180;
        lat = Math.round(lat * 1e4) / 1e4;
        lon = Math.round(lon * 1e4) / 1e4;
        fetch("/places/nearest?latitude=" + lat + "&longitude=" + lon, { credentials: "same-origin" })
          .then(function (r) {
            return r.ok ? r.json() : null;
          })
          .then(function (place) {
            if (place) {
              choose(place);
            } else {
              setValue(city, "");
              setValue(latitude, lat);
              setValue(longitude, lon);
              say(box.getAttribute("data-no-city"));
              draw();
            }
          })
          .catch(function () {});
      });
      [latitude, longitude].forEach(function (field) {
        if (field) field.addEventListener("change", draw);
      });
    }
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-place-picker]"), picker);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
