// pushlab demo: the script loaded by /js/app.js.
(function () {
  "use strict";
  var el = document.getElementById("status");
  if (el) {
    el.textContent = "lazy script loaded at " + Math.round(performance.now()) + " ms";
  }
  window.pushlab = window.pushlab || { marks: {} };
  window.pushlab.marks.lazyLoaded = performance.now();
  window.pushlab.ready = true;
})();
