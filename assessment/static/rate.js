// The questionnaire works without this file. With it, a rater sees how far they have got and
// their answers are saved as a draft in the background, a moment after each change.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var progress = document.getElementById("progress");
  var copy = form.querySelector("[data-progress-copy]");
  var total = parseInt(form.getAttribute("data-total"), 10);
  // Statements only: the self-assessment's optional predictions are not counted.
  var items = form.querySelectorAll("fieldset.item:not(.prediction)");
  var timer = null;
  var saving = false;

  function answered() {
    var count = 0;
    for (var i = 0; i < items.length; i += 1) {
      if (items[i].querySelector("input:checked")) { count += 1; }
    }
    return count;
  }

  function showProgress(extra) {
    var text = progress.getAttribute("data-template")
      .replace("{done}", String(answered())).replace("{total}", String(total));
    progress.textContent = extra ? text + " · " + extra : text;
    progress.hidden = false;
    if (copy) { copy.textContent = text; }
  }

  function autosave() {
    if (saving) { timer = window.setTimeout(autosave, 1000); return; }
    saving = true;
    var data = new FormData(form);
    data.set("action", "autosave");
    window.fetch(window.location.pathname, {
      method: "POST", body: data, credentials: "same-origin", redirect: "manual"
    }).then(function (response) {
      if (response.status === 204) { showProgress(progress.getAttribute("data-saved")); }
    }).catch(function () { /* offline: the buttons still save */ }).then(function () {
      saving = false;
    });
  }

  form.addEventListener("change", function () {
    showProgress();
    window.clearTimeout(timer);
    timer = window.setTimeout(autosave, 1500);
  });
  form.addEventListener("submit", function () { window.clearTimeout(timer); });
  showProgress();
}());
