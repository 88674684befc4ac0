// OrderOps console keyboard shortcuts (everything they do also works without them):
// j/k move through the rows of a case list, o opens, c claims, x ticks for a bulk action,
// "/" jumps to search, "?" shows the help. Ignored while typing in a field.
(function () {
  "use strict";
  var current = -1;

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-row]")); }
  function select(index) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) {
      if (i === current) { row.setAttribute("aria-selected", "true"); } else { row.removeAttribute("aria-selected"); }
    });
    var link = all[current].querySelector("a[data-open]");
    if (link) { link.focus(); }
  }
  function selected() { var all = rows(); return current >= 0 && current < all.length ? all[current] : null; }
  function help(show) {
    var box = document.getElementById("shortcut-help");
    if (!box) { return; }
    box.hidden = !show;
    if (show) { var close = box.querySelector("[data-close-help]"); if (close) { close.focus(); } }
  }

  document.addEventListener("click", function (event) {
    if (event.target && event.target.hasAttribute && event.target.hasAttribute("data-close-help")) { help(false); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { help(false); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var row = selected();
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current < 0 ? 0 : current - 1); break;
      case "o": if (row && row.querySelector("a[data-open]")) { row.querySelector("a[data-open]").click(); } else { return; } break;
      case "c": if (row && row.querySelector("[data-claim]")) { row.querySelector("[data-claim]").click(); } else { return; } break;
      case "x": if (row && row.querySelector("input[type=checkbox]")) { row.querySelector("input[type=checkbox]").click(); } else { return; } break;
      case "/": var box = document.getElementById("global-q"); if (!box) { return; } box.focus(); box.select(); break;
      case "?": help(true); break;
      default: return;
    }
    event.preventDefault();
  });
})();
