// /integrer: a « Copier le code » button beside each snippet. Without JavaScript the buttons stay
// hidden and the read-only text areas can be selected and copied by hand.
(function () {
  "use strict";
  function selectAll(area) { area.focus(); area.select(); }
  function copied(button, text) {
    var status = button.parentNode.querySelector(".copie-faite");
    if (status) status.textContent = text;
  }
  document.querySelectorAll("button.copier").forEach(function (button) {
    var area = document.getElementById(button.getAttribute("data-copy"));
    if (!area) return;
    button.hidden = false;
    area.addEventListener("focus", function () { area.select(); });
    button.addEventListener("click", function () {
      selectAll(area);
      var done = function () { copied(button, "Code copié."); };
      var manual = function () {
        copied(button, "Copie impossible ici : le code est sélectionné, copiez-le avec Ctrl+C (ou ⌘+C).");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(area.value).then(done, manual);
      } else {
        try { if (document.execCommand("copy")) { done(); } else { manual(); } } catch (e) { manual(); }
      }
    });
  });
})();
