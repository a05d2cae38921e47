// The console's only script: "select all" on the dead letters, and the replay progress refresh.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll('input[name="event_ids"]').forEach(function (box) {
          box.checked = all.checked;
        });
      });
    }
    if (document.body.dataset.refresh) {
      window.setTimeout(function () { window.location.reload(); }, 1000);
    }
  });
})();
