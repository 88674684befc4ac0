// OrderOps console: a region that scrolls inside itself (a wide table on a phone, where
// console.css lets table.grid scroll sideways; the case timeline) is reachable by keyboard.
// Such a region with no link or button in it could not be scrolled without a mouse, so it
// gets tabindex="0" (and its caption as its name) while it overflows, and loses it when it
// fits again: a desktop reader meets no extra tab stops. Re-checked on resize and when the
// live refresh swaps a region in.
(function () {
  "use strict";
  var SELECTOR = "table.grid, ol.timeline";
  var queued = false;

  function overflows(el) {
    return el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
  }

  function mark() {
    queued = false;
    var regions = document.querySelectorAll(SELECTOR);
    for (var i = 0; i < regions.length; i++) {
      var el = regions[i];
      if (overflows(el)) {
        if (!el.hasAttribute("tabindex")) {
          el.setAttribute("tabindex", "0");
          el.setAttribute("data-scroll-focus", "");
        }
      } else if (el.hasAttribute("data-scroll-focus")) {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-scroll-focus");
      }
    }
  }

  function later() {
    if (!queued) { queued = true; window.requestAnimationFrame(mark); }
  }

  mark();
  window.addEventListener("resize", later);
  var main = document.getElementById("main");
  if (main && window.MutationObserver) {
    new MutationObserver(later).observe(main, { childList: true, subtree: true });
  }
})();
