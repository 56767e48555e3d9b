/* Wangge — character counters for text inputs with a limit. No outside requests, no inline code (CSP).
   Forms put data-maxlength (wangge/core/forms.py) instead of maxlength, which makes browsers cut pasted
   text silently: here the user sees what is left, the counter turns red above the limit, and the server
   refuses the text with a clear message instead of losing any of it. */
(function () {
  "use strict";

  var script = document.currentScript;
  var WORD_LEFT = (script && script.dataset.left) || "还可输入";
  var WORD_OVER = (script && script.dataset.over) || "超出";

  /* As the server counts: characters (not UTF-16 units), and a line break is sent as \r\n. */
  function length(value) {
    var n = 0;
    for (var ch of value) n += ch === "\n" ? 2 : 1;
    return n;
  }

  function attach(el) {
    if (el.dataset.counted) return;
    var limit = parseInt(el.dataset.maxlength, 10);
    if (!(limit > 0)) return;
    el.dataset.counted = "1";
    var out = document.createElement("small");
    out.className = "char-counter";
    out.setAttribute("aria-live", "polite");
    if (el.id) out.id = el.id + "-counter";
    el.insertAdjacentElement("afterend", out);
    function update() {
      var left = limit - length(el.value);
      out.textContent = left >= 0 ? WORD_LEFT + " " + left + " / " + limit : WORD_OVER + " " + -left + " / " + limit;
      out.classList.toggle("over", left < 0);
      el.classList.toggle("over-limit", left < 0);
    }
    el.addEventListener("input", update);
    update();
  }

  function attachAll(root) {
    (root || document).querySelectorAll("textarea[data-maxlength], input[data-maxlength]").forEach(attach);
  }

  document.addEventListener("DOMContentLoaded", function () { attachAll(document); });
  document.addEventListener("htmx:load", function (e) { attachAll(e.target); });
})();
