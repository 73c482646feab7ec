// A mailing's progress page: its figures every two seconds, without reloading.
(function () {
  "use strict";
  var root = document.getElementById("progression");
  if (!root || !window.fetch || !window.figures) return;
  var number = figures.number, set = figures.set;
  var timeFormat = new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Paris" });

  // Whether the mailing is still under way.
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
    if (remaining) remaining.textContent = p.remaining_text ? "— " + p.remaining_text : "";
    // Once the mailing is over, its pause, resume and cancel buttons have nothing left to do.
    var running = p.status === "sending" || p.status === "paused";
    ["form-pause", "form-resume", "form-cancel"].forEach(function (id) {
      var form = document.getElementById(id);
      if (form && !running && p.status !== "draft") form.hidden = true;
    });
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
  // Every two seconds while it runs, every ten once it is over.
  figures.poll(root.getAttribute("data-url"), 1000, function (p) { return render(p) ? 2000 : 10000; }, 2000);
})();
