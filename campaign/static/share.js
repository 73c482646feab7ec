// The share block's copy button (templates/_share.html): hidden without JavaScript, where the
// link stays in its read-only field to be selected by hand.
(function () {
  "use strict";
  var button = document.querySelector("[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.getElementById("lien-copie");
  if (!field) return;
  button.hidden = false;

  function done(ok) {
    if (status) status.textContent = ok ? "Lien copié." : "Copie impossible : sélectionnez le lien ci-dessus.";
  }

  function fallback() {
    field.focus();
    field.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    done(ok);
  }

  button.addEventListener("click", function () {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  });
})();
