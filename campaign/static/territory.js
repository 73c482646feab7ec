// Progressive enhancement of the territory field: an ARIA 1.2 combobox (list autocomplete)
// whose suggestions come from /api/v1/territories at the level the selected mandate requires.
// Without this file the field is plain text, resolved by the server (with a choice when ambiguous).
(function () {
  "use strict";
  // After a failed submit, focus is on the error summary (`autofocus` does it without JavaScript;
  // this is for browsers that skip it).
  var summary = document.getElementById("erreurs");
  if (summary && document.activeElement === document.body) summary.focus();
  var wrapper = document.querySelector("[data-territory-levels]");
  if (!wrapper || !window.fetch) return;
  var input = wrapper.querySelector("input[name=territory_code]");
  var mandate = document.getElementById("f-mandate");
  if (!input) return;
  var levels = {};
  try { levels = JSON.parse(wrapper.getAttribute("data-territory-levels")) || {}; } catch (e) { levels = {}; }

  var LIMIT = 8;
  var listId = "territoire-suggestions";
  var statusId = "territoire-statut";
  var field = input.parentNode;

  // The listbox follows the input; the live region announces how many suggestions there are.
  var list = document.createElement("ul");
  list.id = listId;
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Suggestions de territoires");
  list.className = "combo-list";
  list.hidden = true;
  field.insertBefore(list, input.nextSibling);
  var status = document.createElement("p");
  status.id = statusId;
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  field.appendChild(status);
  var help = document.createElement("p");
  help.id = "territoire-aide";
  help.className = "visually-hidden";
  help.textContent = "Des suggestions apparaissent pendant la saisie : flèches haut et bas pour les parcourir, Entrée pour choisir, Échap pour fermer.";
  field.appendChild(help);

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listId);
  input.setAttribute("autocomplete", "off");
  var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  described.push("territoire-aide");
  input.setAttribute("aria-describedby", described.join(" "));
  field.classList.add("combo");

  var items = [];
  var active = -1;
  var timer = null;
  var controller = null;
  var lastQuery = null;

  function level() {
    return (mandate && levels[mandate.value]) || "";
  }

  function label(t) {
    if (t.level === "commune") return t.name + " (" + t.departement + ")";
    if (t.level === "departement") return t.name + " (" + t.code + ")";
    return t.name;
  }

  function detail(t) {
    if (t.level === "commune") {
      var codes = t.postal_codes.slice(0, 3).join(", ") + (t.postal_codes.length > 3 ? "…" : "");
      return codes ? "commune · " + codes : "commune · " + t.code;
    }
    return t.level === "departement" ? "département" : "région";
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function setActive(index) {
    var options = list.children;
    if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
    active = index;
    if (index < 0 || !options[index]) {
      input.removeAttribute("aria-activedescendant");
      return;
    }
    options[index].setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", options[index].id);
    if (options[index].scrollIntoView) options[index].scrollIntoView({ block: "nearest" });
  }

  function choose(index) {
    var t = items[index];
    if (!t) return;
    input.value = label(t);
    lastQuery = input.value;
    close();
    status.textContent = label(t) + " choisi.";
  }

  function render(found) {
    items = found;
    list.textContent = "";
    active = -1;
    input.removeAttribute("aria-activedescendant");
    found.forEach(function (t, i) {
      var li = document.createElement("li");
      li.id = listId + "-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.className = "combo-option";
      var name = document.createElement("span");
      name.className = "combo-name";
      name.textContent = label(t);
      var more = document.createElement("span");
      more.className = "combo-detail";
      more.textContent = " " + detail(t);
      li.appendChild(name);
      li.appendChild(more);
      // mousedown, not click: choosing must happen before the input loses focus.
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
      list.appendChild(li);
    });
    var open = found.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    var n = found.length;
    status.textContent = n === 0 ? "Aucune suggestion." :
      n + " suggestion" + (n > 1 ? "s" : "") + " : flèche bas pour les parcourir.";
  }

  function search() {
    var q = input.value.trim();
    if (q === lastQuery) return;
    lastQuery = q;
    if (controller) controller.abort();
    if (q.length < 2 && !/^\d$/.test(q)) { render([]); status.textContent = ""; return; }
    var params = new URLSearchParams({ q: q, limit: String(LIMIT) });
    if (level()) params.set("level", level());
    controller = window.AbortController ? new AbortController() : null;
    fetch("/api/v1/territories?" + params.toString(), {
      headers: { Accept: "application/json" },
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.ok ? response.json() : [];
    }).then(function (found) {
      if (input.value.trim() === q && document.activeElement === input) render(found);
    }).catch(function () { /* aborted or offline: the server resolves what was typed */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 120);
  });
  input.addEventListener("keydown", function (event) {
    var open = !list.hidden && items.length > 0;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (!open) { lastQuery = null; search(); return; }
      setActive(active + 1 < items.length ? active + 1 : 0);
    } else if (event.key === "ArrowUp") {
      if (!open) return;
      event.preventDefault();
      setActive(active > 0 ? active - 1 : items.length - 1);
    } else if (event.key === "Enter") {
      if (open && active >= 0) { event.preventDefault(); choose(active); }
    } else if (event.key === "Escape") {
      if (open) { event.preventDefault(); close(); }
    } else if (event.key === "Tab") {
      close();
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
  if (mandate) {
    // Another mandate, another level: the suggestions must follow.
    mandate.addEventListener("change", function () {
      lastQuery = null;
      if (document.activeElement === input) search(); else close();
    });
  }
})();
