// What-if progressive enhancement (our own code, no libraries): a toggle or
// "Show the effect" posts the form with fetch and swaps in the new result
// and toggles, instead of reloading the page. Without JavaScript the form
// posts and the page comes back the same. Downloads post normally.
(function () {
  "use strict";
  var form = document.getElementById("whatif-form");
  if (!form || !window.fetch || !window.DOMParser || !window.FormData) {
    return;
  }
  form.addEventListener("submit", function (ev) {
    var button = ev.submitter;
    if (button && button.hasAttribute("formaction")) {
      return; // a download: let the browser save it
    }
    ev.preventDefault();
    var data = new FormData(form);
    if (button && button.name) {
      data.append(button.name, button.value);
    }
    var focusValue = button && button.name === "set" ? button.value : null;
    var result = document.getElementById("whatif-result");
    result.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(data),
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (resp) {
      return resp.text().then(function (text) { return { ok: resp.ok, text: text }; });
    }).then(function (r) {
      var doc = new DOMParser().parseFromString(r.text, "text/html");
      var newResult = doc.getElementById("whatif-result");
      var newEdits = doc.getElementById("whatif-edits");
      if (!r.ok || !newResult || !newEdits) {
        var msg = doc.querySelector(".banner.error");
        result.textContent = msg ? msg.textContent : "The edit could not be evaluated.";
        return;
      }
      result.replaceChildren.apply(result, Array.prototype.slice.call(newResult.childNodes));
      var edits = document.getElementById("whatif-edits");
      edits.replaceChildren.apply(edits, Array.prototype.slice.call(newEdits.childNodes));
      if (focusValue !== null) {
        // Keep the keyboard on the cell just toggled: its button now
        // carries the edit that flips it back.
        var cells = edits.querySelectorAll("button[name=set]");
        for (var i = 0; i < cells.length; i++) {
          if (sameCell(cells[i].value, focusValue)) {
            cells[i].focus();
            break;
          }
        }
      }
    }).catch(function () {
      result.textContent = "The console did not answer; submit the form again.";
    }).finally(function () {
      result.removeAttribute("aria-busy");
    });
  });
  // Two edits name the same cell when all but their last part agree.
  function sameCell(a, b) {
    return a.slice(0, a.lastIndexOf("/")) === b.slice(0, b.lastIndexOf("/"));
  }
})();
