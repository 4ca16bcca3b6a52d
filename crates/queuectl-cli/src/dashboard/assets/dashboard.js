// queuectl dashboard: keeps the live part of each page current, and asks
// before actions that touch many jobs. Served from the binary; loads
// nothing else.
(function () {
  "use strict";

  var REFRESH_MS = 2000;
  var live = document.querySelector("[data-fragment]");
  var status = document.getElementById("live-status");
  var busy = false;

  function mark(ok) {
    if (!status) return;
    status.classList.toggle("stale", !ok);
    status.lastChild.textContent = ok ? "live" : "offline";
    if (ok) status.title = "updated " + new Date().toLocaleTimeString();
  }

  // Fetches the page's fragment again and swaps it in. A request still
  // under way is not doubled, and a hidden tab does not poll.
  function refresh() {
    if (!live || busy || document.hidden) return;
    busy = true;
    fetch(live.getAttribute("data-fragment"), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        live.innerHTML = html;
        mark(true);
      })
      .catch(function () {
        mark(false);
      })
      .then(function () {
        busy = false;
      });
  }

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("visibilitychange", refresh);
  if (live) window.setInterval(refresh, REFRESH_MS);
})();
