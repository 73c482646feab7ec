// Progressive enhancement: live counts (Server-Sent Events), the maps recoloured, the newest
// signatories, a ticking countdown. The page is complete without this file. (The embeddable
// counter has its own, smaller script: widget.js.)
(function () {
  "use strict";
  var section = document.querySelector("[data-campaign]");
  if (!section) return;
  var slug = section.getAttribute("data-campaign");
  var api = "/api/v1/campaigns/" + encodeURIComponent(slug);
  var totalEl = document.getElementById("total");
  var progressEl = document.getElementById("progress");
  var nf = new Intl.NumberFormat("fr-FR");

  // The noun next to the total agrees with it (campaign/core/frenchnumbers.py: singular for 0, 1).
  function setNoun(total) {
    var nouns = document.querySelectorAll("[data-noun]");
    for (var i = 0; i < nouns.length; i++) {
      var forms = nouns[i].getAttribute("data-noun").split("|");
      nouns[i].textContent = total < 2 ? forms[0] : forms[1];
    }
  }

  function setCount(level, code, count) {
    // Table cells and figures; the maps' shapes carry the same attributes: see recolour().
    var cells = document.querySelectorAll('[data-level="' + level + '"][data-code="' + code + '"]:not(path)');
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].textContent !== String(count)) {
        cells[i].textContent = String(count);
        cells[i].classList.add("bump");
        setTimeout(function (c) { return function () { c.classList.remove("bump"); }; }(cells[i]), 1500);
      }
    }
  }

  // The share of a territory's maires who signed ("12,5 %"), a dash without a register.
  // As campaign/core/frenchnumbers.py writes it: below 1 %, per thousand (never « 0 % »).
  var pct = new Intl.NumberFormat("fr-FR", { style: "percent", maximumFractionDigits: 1 });
  var permille = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });
  function share(value, space) {
    if (value > 0 && value < 0.00005) return "moins de 0,1" + space + "‰";
    if (value > 0 && value < 0.01) return permille.format(value * 1000) + space + "‰";
    if (value >= 0.9995 && value < 1) return "plus de 99,9" + space + "%";
    return pct.format(value).replace(/[\u202f\u00a0]%/, space + "%");
  }
  // `attribute`: data-coverage (proven) or data-coverage-declared (issue 14: both are shown).
  function setCoverage(level, code, value, attribute) {
    var text = typeof value === "number" ? share(value, "\u00a0") : "—";
    var cells = document.querySelectorAll("[" + (attribute || "data-coverage") + '="' + level + ":" + code + '"]');
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].textContent !== text) cells[i].textContent = text;
    }
  }

  // The maps (campaign/map.py): a shape takes the colour of the last class whose low end its
  // value reaches (the classes are in the <svg>'s data-classes), the neutral colour at zero.
  var maps = [];
  var wraps = document.querySelectorAll(".carte-wrap[data-measure]");
  for (var w = 0; w < wraps.length; w++) {
    var svg = wraps[w].querySelector("svg[data-classes]");
    if (!svg) continue;
    var classes;
    try { classes = JSON.parse(svg.getAttribute("data-classes")) || []; } catch (e) { classes = []; }
    maps.push({
      svg: svg, wrap: wraps[w], classes: classes, neutral: svg.getAttribute("data-neutral"),
      measure: wraps[w].getAttribute("data-measure"),
      unit: (wraps[w].getAttribute("data-unit") || "").split("|")
    });
  }
  function colorFor(value, map) {
    if (!(value > 0)) return map.neutral;
    if (!map.classes.length) return "#1d91c0"; // the server's colour for a single class
    var color = map.classes[0][2];
    for (var i = 0; i < map.classes.length; i++) if (value >= map.classes[i][0]) color = map.classes[i][2];
    return color;
  }
  function isShare(map) { return map.measure === "coverage" || map.measure === "coverage_declared"; }
  function mapText(value, map) {
    if (isShare(map)) return share(value, "\u202f");
    var noun = map.unit.length === 2 ? " " + map.unit[value < 2 ? 0 : 1] : "";
    return nf.format(value).replace(/\u00a0/g, "\u202f") + noun;
  }
  // The legend under the map (map.py, render_legend) has a line per class. A map drawn before
  // any signature has no class: its hidden line for the single class the colouring above falls
  // back to shows once a territory is coloured, with the range the server would give it (from
  // 1, or from the smallest share), and hides again if none is left.
  function updateLegend(map) {
    var line = map.wrap.querySelector(".carte-legende-html [data-fallback]");
    if (!line) return;
    var low = null;
    var shapes = map.svg.querySelectorAll("path[data-value]");
    for (var i = 0; i < shapes.length; i++) {
      var v = parseFloat(shapes[i].getAttribute("data-value"));
      if (v > 0 && (low === null || v < low)) low = v;
    }
    line.hidden = low === null;
    if (low === null) return;
    var text = isShare(map) ? pct.format(low).replace(/\u00a0/g, "\u202f") : "1";
    line.querySelector(".carte-cle-texte").textContent = text + " et plus";
  }
  function recolour(t) {
    for (var m = 0; m < maps.length; m++) {
      var map = maps[m];
      var value = isShare(map) ? t[map.measure] : t.count;
      if (typeof value !== "number") value = 0;
      var shapes = map.svg.querySelectorAll('path[data-level="' + t.level + '"][data-code="' + t.code + '"]');
      for (var i = 0; i < shapes.length; i++) { // Paris is drawn twice (the zoom)
        var shape = shapes[i];
        if (shape.getAttribute("data-value") === String(value)) continue;
        shape.setAttribute("data-value", String(value));
        shape.setAttribute("fill", colorFor(value, map));
        var title = shape.querySelector("title");
        if (title) title.textContent = shape.getAttribute("data-label") + " : " + mapText(value, map);
      }
      updateLegend(map);
    }
  }

  // The newest public signatories (home page): fetched again a moment after the total moves, at
  // a random delay so that a crowd of readers does not ask all at once; none under embargo.
  var latest = document.querySelector("[data-latest]");
  var latestList = document.getElementById("derniers");
  var latestNote = document.getElementById("derniers-note");
  var mandates = {};
  try { mandates = JSON.parse(latest && latest.getAttribute("data-mandates")) || {}; } catch (e) { mandates = {}; }
  // The levels' words, written into the page from campaign/register/levels.py.
  var words = null;
  try { words = JSON.parse(latest && latest.getAttribute("data-levels")); } catch (e) { words = null; }
  if (!words || !words.labels) words = { labels: {}, proofs: {}, details: {} };
  var latestTimer = null;
  function showLatest(data) {
    if (!data || !latestList) return;
    var items = data.embargo ? [] : (data.items || []);
    while (latestList.firstChild) latestList.removeChild(latestList.firstChild);
    items.forEach(function (s) {
      var li = document.createElement("li");
      var name = document.createElement("strong");
      name.textContent = s.given_name + " " + s.family_name;
      li.appendChild(name);
      li.appendChild(document.createTextNode(", " + (mandates[s.mandate] || s.mandate) + " — " + s.territory_name));
      // The same marks as templates/_signatory.html: proven, or only found in the register.
      if (s.verified || s.register_match) {
        var level = s.verified ? "verified" : "register_match";
        var mark = document.createElement("span");
        mark.className = s.verified ? "verified" : "register-match";
        mark.setAttribute("data-level", level);
        mark.title = (s.verified && words.details[s.proof]) || words.details[level] || "";
        mark.textContent = (words.labels[level] || "") +
          (s.verified && words.proofs[s.proof] ? " (" + words.proofs[s.proof] + ")" : "");
        li.appendChild(document.createTextNode(" "));
        li.appendChild(mark);
      }
      latestList.appendChild(li);
    });
    if (latestNote) {
      latestNote.hidden = items.length > 0;
      if (!data.embargo && !items.length) latestNote.textContent = "Aucun signataire public pour l’instant.";
    }
  }
  function refreshLatest(delay) {
    if (!latest || !window.fetch || latestTimer) return;
    latestTimer = setTimeout(function () {
      latestTimer = null;
      fetch(api + "/signatories/latest", { cache: "no-cache" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(showLatest, function () {});
    }, delay);
  }
  function soon() { return 300 + Math.random() * 1700; }

  // « … avec N signataires » of the published letter (issue 7), wherever it is on the page.
  function setLiveTotals(total) {
    var els = document.querySelectorAll("[data-live-total]");
    var text = nf.format(total).replace(/\u202f|\u00a0/g, " ") + (total > 1 ? " signataires" : " signataire");
    for (var i = 0; i < els.length; i++) if (els[i].textContent !== text) els[i].textContent = text;
  }

  // The launch instant (issue 7): the letter page fetches its published state (banner,
  // downloads, the list by région and département) and puts each part in its slot, without a
  // reload. The server decides: before its instant it answers 404, and we ask again a moment
  // later. The page says what time it was on the server, so a browser whose clock is wrong still
  // switches at the server's instant.
  var publication = document.getElementById("publication");
  var skew = 0;
  if (publication && publication.getAttribute("data-now")) {
    var serverNow = Date.parse(publication.getAttribute("data-now"));
    if (!isNaN(serverNow)) skew = serverNow - Date.now();
  }
  function now() { return Date.now() + skew; }
  function publish(tries) {
    if (!publication || publication.firstElementChild) return; // already published
    if (!window.fetch || !window.DOMParser) { location.reload(); return; }
    var again = function (delay) {
      if (tries > 0) setTimeout(function () { publish(tries - 1); }, delay);
    };
    fetch(publication.getAttribute("data-fragment"), { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { again(r.status === 404 ? 1000 : 3000); return null; }
        return r.text();
      })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var parts = doc.querySelectorAll("[data-slot]");
        for (var i = 0; i < parts.length; i++) {
          var slot = document.getElementById(parts[i].getAttribute("data-slot"));
          if (!slot) continue;
          while (slot.firstChild) slot.removeChild(slot.firstChild);
          while (parts[i].firstChild) slot.appendChild(document.adoptNode(parts[i].firstChild));
        }
        if (lastTotal !== null) setLiveTotals(lastTotal);
      }, function () { again(3000); });
  }

  var lastTotal = null;
  function onCounts(data) {
      if (totalEl && typeof data.total === "number") {
        totalEl.textContent = nf.format(data.total).replace(/\u00a0/g, "\u202f");
        setNoun(data.total);
        if (progressEl) progressEl.value = Math.min(data.total, progressEl.max);
      }
      if (typeof data.total === "number") setLiveTotals(data.total);
      if (typeof data.total === "number") {
        if (lastTotal !== null && data.total !== lastTotal) refreshLatest(soon());
        lastTotal = data.total;
      }
      (data.changed || []).forEach(function (t) {
        setCount(t.level, t.code, t.count);
        if ("coverage" in t) setCoverage(t.level, t.code, t.coverage);
        if ("coverage_declared" in t) {
          setCoverage(t.level, t.code, t.coverage_declared, "data-coverage-declared");
        }
        recolour(t);
      });
  }

  // The counts API as a live stream: what a page does when the server refuses it a stream
  // (503 past its caps): every 20 to 40 seconds, régions and départements, the same handler.
  function poll() {
    var levels = ["region", "departement"], changed = [], total = null, left = levels.length;
    levels.forEach(function (level) {
      fetch(api + "/counts?level=" + level, { cache: "no-cache" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (body) {
            total = body.total;
            (body.counts || []).forEach(function (t) {
              changed.push({ level: level, code: t.code, name: t.name, count: t.count,
                             verified: t.verified, coverage: t.coverage,
                             coverage_declared: t.coverage_declared });
            });
          }
        }, function () {})
        .then(function () {
          if (--left) return;
          if (total !== null) onCounts({ total: total, changed: changed });
          setTimeout(poll, 20000 + Math.random() * 20000);
        });
    });
  }

  if (window.EventSource) {
    var source = new EventSource(api + "/events");
    source.addEventListener("counts", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      onCounts(data);
    });
    // A refused stream (503) is closed for good, unlike a dropped one, which reconnects.
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) setTimeout(poll, Math.random() * 5000);
    });
  } else {
    setTimeout(poll, 20000);
  }

  var countdown = document.getElementById("countdown");
  var value = document.getElementById("countdown-value");
  if (countdown && value) {
    var launch = Date.parse(countdown.getAttribute("data-launch"));
    var tick = function () {
      var left = launch - now();
      if (left <= 0) { // the launch instant: names are public now, unless there was no embargo
        countdown.textContent = "La lettre est publique.";
        refreshLatest(soon());
        // A crowd is watching this instant: spread its requests over a second.
        setTimeout(function () { publish(20); }, Math.random() * 1000);
        // The list under embargo opens by itself: the server decides, on the next request.
        if (document.getElementById("embargo")) setTimeout(function () { location.reload(); }, soon());
        return;
      }
      if (left < 60000) { // the last minute, second by second
        var s = Math.ceil(left / 1000);
        value.textContent = s + " seconde" + (s > 1 ? "s" : "");
        setTimeout(tick, Math.min(1000, left + 50));
        return;
      }
      var d = Math.floor(left / 86400000), h = Math.floor(left / 3600000) % 24, m = Math.floor(left / 60000) % 60;
      value.textContent = d + " jour" + (d > 1 ? "s" : "") + ", " + h + " h " + (m < 10 ? "0" : "") + m + " min";
      setTimeout(tick, Math.min(30000, left + 100));
    };
    tick();
  }
})();
