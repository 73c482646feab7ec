// The embeddable counter (/widget): live total, progress, countdown and mini map. Standalone and
// small on purpose (the widget's budget is under 20 KB transferred): the site's live.js grows
// with the pages, this file only with the widget. Same rules as live.js and campaign/map.py.
(function () {
  "use strict";
  var root = document.querySelector("[data-campaign]");
  if (!root) return;
  var api = "/api/v1/campaigns/" + encodeURIComponent(root.getAttribute("data-campaign"));
  var nf = new Intl.NumberFormat("fr-FR");
  var totalEl = document.getElementById("total"), progressEl = document.getElementById("progress");
  var svg = document.querySelector(".carte-wrap svg[data-classes]");
  var classes = [];
  try { classes = svg ? JSON.parse(svg.getAttribute("data-classes")) || [] : []; } catch (e) { classes = []; }

  function colorFor(value) {
    if (!(value > 0)) return svg.getAttribute("data-neutral");
    if (!classes.length) return "#1d91c0"; // the server's colour for a single class
    var color = classes[0][2];
    for (var i = 0; i < classes.length; i++) if (value >= classes[i][0]) color = classes[i][2];
    return color;
  }
  // The legend's line kept for the first coloured territory (a map drawn before any signature
  // has no class yet): shown once one is coloured, as live.js does (territories/map.py).
  function updateLegend() {
    var wrap = svg.closest(".carte-wrap");
    var line = wrap && wrap.querySelector(".carte-legende-html [data-fallback]");
    if (!line) return;
    var coloured = svg.querySelector('path[data-value]:not([data-value="0"])');
    line.hidden = !coloured;
    if (coloured) line.querySelector(".carte-cle-texte").textContent = "1 et plus";
  }
  function recolour(t) {
    if (!svg || typeof t.count !== "number") return;
    var shapes = svg.querySelectorAll('path[data-level="' + t.level + '"][data-code="' + t.code + '"]');
    for (var i = 0; i < shapes.length; i++) {
      if (shapes[i].getAttribute("data-value") === String(t.count)) continue;
      shapes[i].setAttribute("data-value", String(t.count));
      shapes[i].setAttribute("fill", colorFor(t.count));
      var title = shapes[i].querySelector("title");
      if (title) {
        title.textContent = shapes[i].getAttribute("data-label") + " : " +
          nf.format(t.count).replace(/\u00a0/g, "\u202f") + (t.count < 2 ? " signature" : " signatures");
      }
    }
    updateLegend();
  }

  // The noun next to the total agrees with it (campaign/core/frenchnumbers.py: singular for 0, 1).
  function setNoun(total) {
    var nouns = document.querySelectorAll("[data-noun]");
    for (var i = 0; i < nouns.length; i++) {
      var forms = nouns[i].getAttribute("data-noun").split("|");
      nouns[i].textContent = total < 2 ? forms[0] : forms[1];
    }
  }

  function onCounts(data) {
    if (totalEl && typeof data.total === "number") {
      totalEl.textContent = nf.format(data.total).replace(/\u00a0/g, "\u202f");
      setNoun(data.total);
      if (progressEl) progressEl.value = Math.min(data.total, progressEl.max);
    }
    (data.changed || []).forEach(recolour);
  }

  // Refused a live stream (503 past the server's caps): the counts API every 20 to 40 s.
  function poll() {
    fetch(api + "/counts?level=departement", { cache: "no-cache" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body) {
          onCounts({ total: body.total, changed: (body.counts || []).map(function (t) {
            return { level: "departement", code: t.code, name: t.name, count: t.count,
                     verified: t.verified, coverage: t.coverage };
          }) });
        }
      }, function () {})
      .then(function () { setTimeout(poll, 20000 + Math.random() * 20000); });
  }

  if (window.EventSource) {
    var source = new EventSource(api + "/events");
    source.addEventListener("counts", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      onCounts(data);
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) setTimeout(poll, Math.random() * 5000);
    });
  } else {
    setTimeout(poll, 20000);
  }

  var countdown = document.getElementById("countdown"), value = document.getElementById("countdown-value");
  if (countdown && value) {
    var launch = Date.parse(countdown.getAttribute("data-launch"));
    var tick = function () {
      var left = launch - Date.now();
      if (left <= 0) { countdown.textContent = "La lettre est publique."; return; }
      var d = Math.floor(left / 86400000), h = Math.floor(left / 3600000) % 24;
      value.textContent = d + " jour" + (d > 1 ? "s" : "") + ", " + h + " h";
      setTimeout(tick, Math.min(60000, left + 100));
    };
    tick();
  }
})();
