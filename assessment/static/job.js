// The job page works without this file (it refreshes itself, or the coach presses Refresh).
// With it, the page follows the job live: it asks the small JSON view how far the job has got
// and updates the count, the bar and the list of problems in place; once the job has ended it
// loads the page again, which then offers what comes next (a download, the way back).
(function () {
  "use strict";
  var panel = document.getElementById("job");
  if (!panel || panel.hasAttribute("data-finished") || !window.fetch) { return; }
  var EVERY = 1500;

  function show(job) {
    document.getElementById("job-sentence").textContent = job.sentence;
    var bar = document.getElementById("job-bar");
    bar.max = job.total || 1;
    bar.value = job.done;
    bar.textContent = job.done + " of " + (job.total === null ? "?" : job.total) + " done";
    document.getElementById("job-count").textContent = bar.textContent;
    var list = document.getElementById("job-errors");
    list.textContent = "";
    job.errors.forEach(function (problem) {
      var item = document.createElement("li");
      var who = document.createElement("strong");
      who.textContent = problem.item;
      item.appendChild(who);
      item.appendChild(document.createTextNode(": " + problem.error));
      list.appendChild(item);
    });
    document.getElementById("job-problems").hidden = job.errors.length === 0;
  }

  function poll() {
    fetch(panel.getAttribute("data-status"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (job.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, EVERY);
        }
      })
      .catch(function () { window.setTimeout(poll, EVERY * 4); });
  }
  window.setTimeout(poll, EVERY);
}());
