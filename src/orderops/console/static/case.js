// OrderOps case page: small conveniences over pages that work without a script.
// - a select marked data-autosubmit submits its (GET) form when changed: choosing an
//   action shows its fields, choosing a timeline kind filters, without a button press;
// - the SLA countdown the server rendered ("due in 3 h 12 min") ticks on each minute.
// Delegated from the document, so regions the live refresh swaps in keep working.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.submit();
    }
  });

  function span(minutes) {
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days) { return days + " d" + (hours ? " " + hours + " h" : ""); }
    if (hours) { return hours + " h" + (mins ? " " + mins + " min" : ""); }
    return mins + " min";
  }

  function tick() {
    var clocks = document.querySelectorAll(".sla[data-due][data-now]");
    Array.prototype.forEach.call(clocks, function (el) {
      // the server's clock may be a simulated business clock: count on from its "now",
      // from when this element was first seen (a live refresh swaps in fresh ones)
      if (!el.dataset.seen) { el.dataset.seen = String(Date.now()); }
      var now = Date.parse(el.dataset.now) + (Date.now() - Number(el.dataset.seen));
      var left = Math.floor((Date.parse(el.dataset.due) - now) / 60000);
      el.textContent = left >= 0 ? "due in " + span(left) : "overdue by " + span(-left);
    });
  }
  tick();
  window.setInterval(tick, 15000);
})();
