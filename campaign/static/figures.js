// Figures that follow a JSON document polled from the server (a mailing's progress, a relay's
// page); the pages are complete without it. Loaded before the page's own script, which uses
// window.figures.
window.figures = (function () {
  "use strict";

  // 12345 -> "12 345" (a non-breaking space, as the server writes them).
  function number(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
  }
  // The text of element `id`, changed only when it differs (no needless repaint or announcement).
  function set(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) el.textContent = text;
  }
  // GET `url` after `first` ms, then again and again: `render` receives each document and
  // returns how long to wait before the next; a failed request waits `retry` ms.
  function poll(url, first, render, retry) {
    function again() {
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (doc) { return doc ? render(doc) : retry; })
        .catch(function () { return retry; })
        .then(function (wait) { setTimeout(again, wait); });
    }
    setTimeout(again, first);
  }
  return { number: number, set: set, poll: poll };
})();
