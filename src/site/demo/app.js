// pushlab demo: a render-blocking script that loads a second script, the
// edge the Rules of Thumb call "a script that loads another" (a fetch the
// HTML scan cannot see; the demo's site model declares it).
(function () {
  "use strict";
  window.pushlab = window.pushlab || { marks: {} };
  window.pushlab.marks.appStart = performance.now();
  function loadLazy() {
    var s = document.createElement("script");
    s.src = "/js/lazy.js";
    s.async = true;
    document.head.appendChild(s);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", loadLazy);
  } else {
    loadLazy();
  }
})();
