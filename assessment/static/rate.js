// The questionnaire works without this file. With it, a rater sees how far they have got, their
// answers are saved as a draft in the background a moment after each change, and until the
// server has confirmed them they are also kept in this browser: an answer given during an outage,
// or a submit that did not get through, is put back when the page is opened again.
(function () {
  "use strict";
  var KEPT = "cl360:answers:";
  var SUBMITTING = "cl360:submitting";
  var MAX_AGE = 30 * 24 * 3600 * 1000;

  function storage(kind) {
    try { return window[kind]; } catch (e) { return null; }
  }
  var local = storage("localStorage");
  var session = storage("sessionStorage");

  // Answers kept here are the rater's own and stay on their device, but not for ever.
  function forgetOld() {
    if (!local) { return; }
    for (var i = local.length - 1; i >= 0; i -= 1) {
      var name = local.key(i);
      if (name && name.indexOf(KEPT) === 0) {
        try {
          if (Date.now() - JSON.parse(local.getItem(name)).at > MAX_AGE) { local.removeItem(name); }
        } catch (e) { local.removeItem(name); }
      }
    }
  }
  forgetOld();

  // The thanks page: the answers of the form that was submitted are in, so forget them here.
  if (document.querySelector("[data-answers-received]")) {
    if (local && session && session.getItem(SUBMITTING)) {
      local.removeItem(session.getItem(SUBMITTING));
      session.removeItem(SUBMITTING);
    }
    return;
  }

  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var key = KEPT + window.location.pathname;
  var progress = document.getElementById("progress");
  var copy = form.querySelector("[data-progress-copy]");
  var total = parseInt(form.getAttribute("data-total"), 10);
  // Statements only: the self-assessment's optional predictions are not counted.
  var items = form.querySelectorAll("fieldset.item:not(.prediction)");
  var timer = null;
  var saving = false;
  var changes = 0;

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
    if (copy) { copy.textContent = progress.textContent; }
  }

  function answers() {
    var fields = [];
    var data = new FormData(form);
    data.forEach(function (value, name) {
      if (name !== "csrf_token" && name !== "submission" && typeof value === "string") {
        fields.push([name, value]);
      }
    });
    return fields;
  }

  function keep() {
    if (!local) { return; }
    try { local.setItem(key, JSON.stringify({ at: Date.now(), fields: answers() })); } catch (e) {}
  }

  // Whether answers kept here differed from the page, and were put back.
  function putBack() {
    var kept;
    try { kept = local && JSON.parse(local.getItem(key)); } catch (e) { kept = null; }
    if (!kept || !kept.fields || !kept.fields.length) { return false; }
    var before = JSON.stringify(answers());
    kept.fields.forEach(function (field) {
      var inputs = form.elements.namedItem(field[0]);
      if (!inputs) { return; }
      if (inputs.tagName === "TEXTAREA") { inputs.value = field[1]; return; }
      var choices = inputs.length === undefined ? [inputs] : inputs;
      for (var i = 0; i < choices.length; i += 1) {
        if (choices[i].type === "radio") { choices[i].checked = choices[i].value === field[1]; }
      }
    });
    return JSON.stringify(answers()) !== before;
  }

  function autosave() {
    if (saving) { timer = window.setTimeout(autosave, 1000); return; }
    saving = true;
    var sent = changes;
    var data = new FormData(form);
    data.set("action", "autosave");
    window.fetch(window.location.pathname, {
      method: "POST", body: data, credentials: "same-origin", redirect: "manual"
    }).then(function (response) {
      if (response.status === 204) {
        if (sent === changes && local) { local.removeItem(key); }
        var shown = progress.textContent;
        var restored = progress.getAttribute("data-restored");
        showProgress(progress.getAttribute("data-saved") +
          (shown.indexOf(restored) >= 0 ? " · " + restored : ""));
      } else if (response.status === 409) {
        // Used or closed meanwhile: the page says which.
        if (local) { local.removeItem(key); }
        window.location.reload();
      } else {
        showProgress(progress.getAttribute("data-unsaved"));
      }
    }).catch(function () {
      showProgress(progress.getAttribute("data-unsaved"));
    }).then(function () {
      saving = false;
    });
  }

  function changed(note) {
    changes += 1;
    keep();
    showProgress(note);
    window.clearTimeout(timer);
    timer = window.setTimeout(autosave, 1500);
  }

  form.addEventListener("change", function () { changed(); });
  form.addEventListener("input", function (event) {
    if (event.target.tagName === "TEXTAREA") { keep(); }
  });
  form.addEventListener("submit", function () {
    window.clearTimeout(timer);
    keep();
    if (session) { try { session.setItem(SUBMITTING, key); } catch (e) {} }
  });
  if (/[?&]saved=1/.test(window.location.search) && local) {
    local.removeItem(key);  // the server has just confirmed these answers as a draft
  }
  if (putBack()) {
    changed(progress.getAttribute("data-restored"));
  } else {
    showProgress();
  }
}());
