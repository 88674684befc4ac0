// OrderOps console: live refresh of the region marked data-live-url, nothing else.
// Polls a small JSON fingerprint; when it changes, fetches the page again and swaps the
// region, unless the person is typing in a form inside it (their draft is never lost).
(function () {
  "use strict";
  var region = document.getElementById("live");
  if (!region || !region.dataset.liveUrl || !window.fetch) { return; }
  var url = region.dataset.liveUrl;
  var stamp = null;
  var dirty = false;
  var interval = Number(region.dataset.liveInterval || 3000);

  region.addEventListener("input", function () { dirty = true; });
  region.addEventListener("submit", function () { dirty = false; });

  function note(text) {
    var el = document.querySelector(".live-note");
    if (!el) {
      el = document.createElement("p");
      el.className = "live-note";
      el.setAttribute("role", "status");
      document.body.appendChild(el);
    }
    el.textContent = text;
    window.setTimeout(function () { if (el.parentNode) { el.parentNode.removeChild(el); } }, 2500);
  }

  function swap() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (!fresh) { return; }
        var focused = document.activeElement && document.activeElement.id;
        region.innerHTML = fresh.innerHTML;
        if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
        note("Updated");
      });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        if (stamp !== null && body.stamp !== stamp && !dirty) {
          stamp = body.stamp;
          return swap();
        }
        if (stamp === null || !dirty) { stamp = body.stamp; }
      })
      .catch(function () { /* offline for a moment: try again next tick */ })
      .then(function () { window.setTimeout(poll, interval); });
  }
  poll();
})();
