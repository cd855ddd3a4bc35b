// Log a sighting starts from its URL: a pasted or changed URL is read by the server, and what
// it proposes fills the fields a person left empty (or that an earlier URL filled). The form
// works without this file; no inline script, so the CSP can forbid it.
(function () {
  "use strict";

  var FIELDS = ["outlet", "published_at", "published_at_precision", "title", "language"];

  function proposed(box, name) {
    return box.getAttribute("data-fill-" + name.replace(/_/g, "-"));
  }

  function fill(form, box) {
    FIELDS.forEach(function (name) {
      var field = form.elements[name];
      var value = proposed(box, name);
      if (!field || !value || (field.value && field.dataset.filled !== "url")) return;
      if (name === "published_at" && field.type === "date") value = proposed(box, "published_on");
      if (field.tagName === "SELECT" && !field.querySelector('option[value="' + CSS.escape(value) + '"]')) return;
      field.value = value;
      field.dataset.filled = "url";
      field.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  function useClaim(button) {
    var text = document.getElementById("claim_text");
    if (!text) return;
    text.value = button.getAttribute("data-use-claim");
    text.dispatchEvent(new Event("search", { bubbles: true }));
    text.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var url = document.getElementById("url");
    var box = document.getElementById("url-info");
    if (!url || !box || !url.form || typeof window.htmx === "undefined") return;
    var form = url.form, asked = "";
    function read() {
      var value = url.value.trim();
      if (!value || value === asked) return;
      asked = value;
      box.setAttribute("aria-busy", "true");
      window.htmx.ajax("GET", "/ui/fragments/url-info?url=" + encodeURIComponent(value), { target: box, swap: "innerHTML" });
    }
    url.addEventListener("change", read);
    // A paste lands in the field after its event: read once it is there.
    url.addEventListener("paste", function () { setTimeout(read, 0); });
    box.addEventListener("htmx:afterSwap", function () {
      box.removeAttribute("aria-busy");
      var info = box.querySelector("[data-url-info]");
      if (info) fill(form, info);
    });
    box.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-use-claim]");
      if (button) useClaim(button);
    });
    // What a person types is theirs: a later URL no longer replaces it.
    form.addEventListener("input", function (event) {
      if (event.isTrusted && event.target.dataset) delete event.target.dataset.filled;
    });
  });
})();
