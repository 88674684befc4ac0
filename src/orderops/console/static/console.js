// OrderOps console: live refresh of the region marked data-live-url, nothing else.
// The server says when the page changed, by server-sent events (data-live-stream) where the
// browser has EventSource; else, or when the stream fails (refused, server gone), the page
// polls a small JSON fingerprint (data-live-url). Either way a change fetches the page again
// and swaps the region, unless the person is typing in it or has ticked boxes in it: their
// draft and their selection are never lost (the swap waits until they are done).
(function () {
  "use strict";
  var region = document.getElementById("live");
  if (!region || !region.dataset.liveUrl || !window.fetch) { return; }
  var pollUrl = region.dataset.liveUrl;
  var streamUrl = region.dataset.liveStream;
  var interval = Number(region.dataset.liveInterval || 3000);
  var dirty = false;     // typed into a field of the region since the last submit
  var pending = false;   // a change arrived while the person was busy
  var swapping = false;

  region.addEventListener("input", function (e) {
    if (e.target && e.target.type !== "checkbox") { dirty = true; }
  });
  region.addEventListener("submit", function () { dirty = false; });
  region.addEventListener("change", function () { if (pending) { changed(); } });

  // Busy: typed into the region, or ticked (or unticked) a box in it that the page did not
  // come with that way; a box the server rendered ticked does not hold the region.
  function busy() {
    if (dirty) { return true; }
    var boxes = region.querySelectorAll("input[type=checkbox]");
    for (var i = 0; i < boxes.length; i += 1) {
      if (boxes[i].checked !== boxes[i].defaultChecked) { return true; }
    }
    return false;
  }

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
    swapping = true;
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        if (busy()) { pending = true; return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (!fresh) { return; }
        var focused = document.activeElement && document.activeElement.id;
        region.innerHTML = fresh.innerHTML;
        if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
        note("Updated");
      })
      .catch(function () { pending = true; /* offline for a moment: the next change retries */ })
      .then(function () {
        swapping = false;
        if (pending && !busy()) { changed(); }
      });
  }

  // The page changed on the server: swap now, or as soon as the person is done.
  function changed() {
    if (busy() || swapping) { pending = true; return; }
    pending = false;
    swap();
  }

  function poll() {
    var stamp = null;
    function tick() {
      fetch(pollUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body) { return; }
          if (stamp !== null && body.stamp !== stamp) { changed(); }
          stamp = body.stamp;
        })
        .catch(function () { /* offline for a moment: try again next tick */ })
        .then(function () { window.setTimeout(tick, interval); });
    }
    tick();
  }

  function stream() {
    var source = new EventSource(streamUrl);
    var marker = null;
    var failures = 0;  // errors in a row with no event between: the stream is not coming back
    var fallen = false;
    function fallBack() {
      source.close();
      if (!fallen) { fallen = true; poll(); }
    }
    source.addEventListener("change", function (e) {
      failures = 0;
      if (e.data === "gone") { source.close(); changed(); return; }
      // the first marker of a stream is the baseline; after a reconnect it catches a change
      // made while the stream was down
      if (marker !== null && e.data !== marker) { changed(); }
      marker = e.data;
    });
    source.addEventListener("error", function () {
      // The server ends each stream after its lifetime and the browser reconnects
      // (CONNECTING); a refusal (429, a sign-in page) leaves it CLOSED.
      failures += 1;
      if (source.readyState === EventSource.CLOSED || failures > 3) { fallBack(); }
    });
  }

  if (streamUrl && window.EventSource) { stream(); } else { poll(); }
})();
