// A mailing's progress page: its figures every two seconds, without reloading.
(function () {
  "use strict";
  var root = document.getElementById("progression");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-url");
  var timeFormat = new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Paris" });

  function number(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
  }
  function set(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) el.textContent = text;
  }
  function render(p) {
    set("p-status", p.status_label);
    set("p-queued", number(p.queued + p.sending));
    set("p-sent", number(p.sent));
    set("p-failed", number(p.failed));
    set("p-cancelled", number(p.cancelled));
    set("p-last-minute", number(p.last_minute));
    var total = p.queued + p.sending + p.sent + p.failed + p.cancelled;
    var bar = document.getElementById("p-bar");
    if (bar) bar.value = total ? (total - p.queued - p.sending) / total : 0;
    var remaining = document.getElementById("p-remaining");
    if (remaining) remaining.textContent = p.remaining_seconds ? (p.remaining_seconds / 60).toFixed(1).replace(".", ",") + " min" : "—";
    var list = document.getElementById("p-minutes");
    if (list) {
      var items = document.createDocumentFragment();
      p.per_minute.forEach(function (m) {
        var li = document.createElement("li");
        li.textContent = timeFormat.format(new Date(m.minute)) + " : " + number(m.sent);
        items.appendChild(li);
      });
      if (p.per_minute.length) list.replaceChildren(items);
    }
    return p.status === "sending" || p.status === "paused";
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) { return p ? render(p) : true; })
      .catch(function () { return true; })
      .then(function (again) { setTimeout(poll, again ? 2000 : 10000); });
  }
  setTimeout(poll, 1000);
})();
