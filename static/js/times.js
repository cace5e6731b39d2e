// Keeps relative times true while a page stays open: every <time data-rel>
// (console/times.py's |reltime) is rewritten from its datetime attribute with
// the same rules as the server ("just now", "12 s ago", "5 min ago", "3 h ago",
// "2 d ago", "in 25 s"; past 30 days the title, the absolute time). Rows that
// htmx swaps in are rewritten at once.
(function () {
  "use strict";
  var JUST_NOW_S = 5, ABSOLUTE_AFTER_S = 30 * 86400;
  var UNITS = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];

  function relative(el, now) {
    var at = Date.parse(el.getAttribute("datetime"));
    if (isNaN(at)) return null;
    var seconds = (now - at) / 1000, ahead = seconds < 0;
    seconds = Math.abs(seconds);
    if (seconds < JUST_NOW_S) return "just now";
    if (seconds >= ABSOLUTE_AFTER_S) return el.getAttribute("title");
    for (var i = 0; i < UNITS.length; i++) {
      if (seconds >= UNITS[i][0]) {
        var amount = Math.floor(seconds / UNITS[i][0]) + " " + UNITS[i][1];
        return ahead ? "in " + amount : amount + " ago";
      }
    }
    return null;
  }

  function refresh(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[data-rel]").forEach(function (el) {
      var text = relative(el, now);
      if (text && el.textContent !== text) el.textContent = text;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { refresh(); });
  document.addEventListener("htmx:afterSettle", function () { refresh(); });
  document.addEventListener("htmx:oobAfterSwap", function () { refresh(); });
  setInterval(refresh, 5000);
})();
