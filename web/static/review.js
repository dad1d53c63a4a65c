// Keys for the review and prediction pages. Every action is also a plain button or link, and the
// pages work without this script: 1–5 pick an alternative, Enter or c confirms, s skips, u undoes
// the last verdict, / moves to the intent search (Esc leaves it).
(function () {
  "use strict";
  var sent = false;
  function press(selector) {
    var el = document.querySelector(selector);
    if (!el) return false;
    if (el.tagName === "BUTTON") {
      if (sent) return true;  // one verdict per page: a held key must not send two
      sent = true;
    }
    el.click();
    return true;
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    var t = e.target;
    var tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) {
      if (e.key === "Escape") t.blur();
      return;
    }
    // Enter on a focused button or link is that element's own action.
    if (e.key === "Enter" && (tag === "BUTTON" || tag === "A")) return;
    var done = false;
    if (/^[1-9]$/.test(e.key)) done = press('button[data-key="' + e.key + '"]');
    else if (e.key === "Enter" || e.key === "c") done = press("#confirm");
    else if (e.key === "s") done = press("#skip");
    else if (e.key === "u") done = press("#undo");
    else if (e.key === "/") {
      var search = document.getElementById("intent");
      if (search) { search.focus(); done = true; }
    }
    if (done) e.preventDefault();
  });
})();
