// A relay's page: its figures every few seconds, without reloading (the page works without it).
(function () {
  "use strict";
  var root = document.getElementById("relais");
  if (!root || !window.fetch || !window.figures) return;
  var number = figures.number, set = figures.set;
  var every = 3000;

  function render(state) {
    set("relay-confirmed", number(state.confirmed));
    set("relay-pending", number(state.pending));
    set("relay-verified", number(state.verified));
    set("relay-register-match", number(state.register_match || 0));
    set("territory-confirmed", number(state.territory.confirmed));
    set("territory-maires-signed", number(state.territory.maires_signed));
    set("territory-maires", number(state.territory.maires));
    set("territory-coverage", state.coverage_text);
    var list = document.getElementById("relay-items");
    if (list) {
      var items = document.createDocumentFragment();
      state.items.forEach(function (item) {
        var li = document.createElement("li");
        li.textContent = item.name + " — " + item.mandate + ", " + item.territory;
        if (item.level && item.level !== "declared") {
          var badge = document.createElement("span");
          badge.className = "badge";
          badge.setAttribute("data-level", item.level);
          badge.textContent = item.level_label; // the server's words (campaign/register/levels.py)
          li.appendChild(document.createTextNode(" "));
          li.appendChild(badge);
        }
        items.appendChild(li);
      });
      if (!state.items.length) {
        var empty = document.createElement("li");
        empty.className = "empty";
        empty.textContent = "Aucune signature confirmée pour l’instant.";
        items.appendChild(empty);
      }
      list.replaceChildren(items);
    }
    var unlisted = document.getElementById("relay-unlisted");
    if (unlisted) {
      unlisted.hidden = !state.unlisted;
      unlisted.firstElementChild.textContent = String(state.unlisted);
    }
  }
  figures.poll(root.getAttribute("data-state"), every, function (state) { render(state); return every; }, every);
})();
