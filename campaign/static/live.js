// Progressive enhancement: live counts (Server-Sent Events) and a ticking countdown.
// The page is complete without this file.
(function () {
  "use strict";
  var section = document.querySelector("[data-campaign]");
  if (!section) return;
  var slug = section.getAttribute("data-campaign");
  var totalEl = document.getElementById("total");
  var progressEl = document.getElementById("progress");
  var nf = new Intl.NumberFormat("fr-FR");

  function setCount(level, code, count) {
    var cells = document.querySelectorAll('[data-level="' + level + '"][data-code="' + code + '"]');
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].textContent !== String(count)) {
        cells[i].textContent = String(count);
        cells[i].classList.add("bump");
        setTimeout(function (c) { return function () { c.classList.remove("bump"); }; }(cells[i]), 1500);
      }
    }
  }

  // The share of a territory's maires who signed ("12,5 %"), a dash without a register.
  var pct = new Intl.NumberFormat("fr-FR", { style: "percent", maximumFractionDigits: 1 });
  function setCoverage(level, code, share) {
    var text = typeof share === "number" ? pct.format(share).replace(/\u202f/g, "\u00a0") : "—";
    var cells = document.querySelectorAll('[data-coverage="' + level + ":" + code + '"]');
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].textContent !== text) cells[i].textContent = text;
    }
  }

  if (window.EventSource) {
    var source = new EventSource("/api/v1/campaigns/" + encodeURIComponent(slug) + "/events");
    source.addEventListener("counts", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (totalEl && typeof data.total === "number") {
        totalEl.textContent = nf.format(data.total).replace(/\u202f|\u00a0/g, " ");
        if (progressEl) progressEl.value = Math.min(data.total, progressEl.max);
      }
      (data.changed || []).forEach(function (t) {
        setCount(t.level, t.code, t.count);
        if ("coverage" in t) setCoverage(t.level, t.code, t.coverage);
      });
    });
  }

  var countdown = document.getElementById("countdown");
  var value = document.getElementById("countdown-value");
  if (countdown && value) {
    var launch = Date.parse(countdown.getAttribute("data-launch"));
    var tick = function () {
      var left = Math.max(0, launch - Date.now());
      var d = Math.floor(left / 86400000), h = Math.floor(left / 3600000) % 24, m = Math.floor(left / 60000) % 60;
      value.textContent = d + " jour" + (d > 1 ? "s" : "") + ", " + h + " h " + (m < 10 ? "0" : "") + m + " min";
    };
    tick();
    setInterval(tick, 30000);
  }
})();
