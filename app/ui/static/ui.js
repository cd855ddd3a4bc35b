// Tracer's pages work without this file; it adds details on focus, the graph, live denials
// and a guard against double submits. No inline script anywhere, so the CSP can forbid it.
(function () {
  "use strict";

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function webLink(href, text) {
    return /^https?:\/\//i.test(href || "") ? el("a", text, { href: href, rel: "noopener noreferrer" }) : null;
  }

  function timeline() {
    var svg = document.querySelector("svg[data-chain-timeline]");
    var box = document.getElementById("mark-details");
    if (!svg || !box) return;
    var marks = Array.prototype.slice.call(svg.querySelectorAll("a.mark"));
    svg.addEventListener("focusin", function (event) {
      var mark = event.target.closest("a.mark");
      if (!mark) return;
      box.textContent = "";
      box.appendChild(el("strong", mark.getAttribute("aria-label")));
      var links = [webLink(mark.dataset.url, "source"), webLink(mark.dataset.archiveUrl, "archive")];
      links.forEach(function (link) { if (link) { box.appendChild(document.createTextNode(" · ")); box.appendChild(link); } });
      box.appendChild(document.createTextNode(" · "));
      box.appendChild(el("a", "row in the table", { href: "#s-" + mark.dataset.sightingId }));
    });
    svg.addEventListener("keydown", function (event) {
      var i = marks.indexOf(event.target.closest("a.mark"));
      if (i < 0) return;
      var step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      marks[Math.min(marks.length - 1, Math.max(0, i + step))].focus();
    });
  }

  // Each stance its own shape, as in the timeline and the legend; colours come from the
  // stylesheet's variables, so the graph, the timeline and the legends cannot drift apart.
  var STANCE_SHAPES = {
    asserts: { shape: "ellipse" },
    reports: { shape: "rectangle" },
    questions: { shape: "diamond" },
    debunks: { shape: "polygon", points: "-1 -1 1 -1 0 1" },
    confirms: { shape: "polygon", points: "-1 1 1 1 0 -1" },
    denies: { shape: "polygon", points: "-1 -0.6 -0.6 -1 0 -0.4 0.6 -1 1 -0.6 0.4 0 1 0.6 0.6 1 0 0.4 -0.6 1 -1 0.6 -0.4 0" },
    retracts: { shape: "polygon", points: "-1 -0.35 1 -0.35 1 0.35 -1 0.35" }
  };

  function stanceStyles() {
    var css = getComputedStyle(document.documentElement);
    return Object.keys(STANCE_SHAPES).map(function (stance) {
      var look = STANCE_SHAPES[stance];
      var style = { "shape": look.shape, "background-color": css.getPropertyValue("--stance-" + stance).trim() || "#1f5fbf" };
      if (look.points) style["shape-polygon-points"] = look.points;
      return { selector: 'node[stance = "' + stance + '"]', style: style };
    });
  }

  function citationGraph() {
    var holder = document.getElementById("graph");
    var data = document.getElementById("graph-data");
    if (!holder || !data || typeof window.cytoscape !== "function") return;
    var elements = JSON.parse(data.textContent);
    var css = getComputedStyle(document.documentElement);
    var path = css.getPropertyValue("--path").trim(), denial = css.getPropertyValue("--denial").trim();
    // Kept on its element, where a reader's own script (or a test) can ask what was drawn.
    holder.cytoscape = window.cytoscape({
      container: holder,
      elements: { nodes: elements.nodes, edges: elements.edges },
      layout: { name: "dagre", rankDir: "LR", nodeSep: 70, rankSep: 110 },
      wheelSensitivity: 0.3,
      style: [
        { selector: "node", style: { "label": "data(label)", "font-size": 9, "text-wrap": "wrap", "text-max-width": 90,
          "text-valign": "bottom", "text-margin-y": 3, "width": 16, "height": 16, "background-color": "#1f5fbf" } }
      ].concat(stanceStyles(), [
        { selector: "node[?path]", style: { "border-width": 3, "border-color": path, "width": 20, "height": 20 } },
        // A halo rather than a border, so the denial keeps its stance's shape.
        { selector: "node[?denial]", style: { "border-width": 0, "width": 22, "height": 22, "underlay-color": denial,
          "underlay-opacity": 0.35, "underlay-padding": 9, "underlay-shape": "ellipse" } },
        { selector: "edge", style: { "width": 1.2, "line-color": "#9ca3af", "target-arrow-color": "#9ca3af",
          "target-arrow-shape": "triangle", "curve-style": "bezier" } },
        { selector: "edge[?path]", style: { "width": 4, "line-color": path, "target-arrow-color": path } }
      ])
    });
    holder.setAttribute("data-drawn", "true");
  }

  function liveDenials() {
    var body = document.getElementById("denials");
    var status = document.getElementById("live-status");
    if (!body || !body.dataset.stream || typeof window.EventSource !== "function") return;
    var source = new EventSource(body.dataset.stream);
    source.onopen = function () { status.textContent = "Live: new denials appear at the top."; };
    source.onerror = function () { status.textContent = "Connection lost; reconnecting…"; };
    source.addEventListener("denial.recorded", function (message) {
      var event = JSON.parse(message.data);
      var sighting = event.data.sighting, claim = event.data.claim;
      if (body.querySelector('tr[data-sighting-id="' + CSS.escape(sighting.id) + '"]')) return;
      var row = el("tr", null, { "data-sighting-id": sighting.id, "class": "fresh" });
      row.appendChild(el("td", sighting.published_at.slice(0, 10)));
      row.appendChild(el("td", sighting.outlet.name));
      var claimCell = el("td");
      claimCell.appendChild(el("a", claim.statement, { href: "/ui/claims/" + encodeURIComponent(claim.id) }));
      row.appendChild(claimCell);
      var sourceCell = el("td");
      var link = webLink(sighting.url, "link");
      if (link) sourceCell.appendChild(link);
      row.appendChild(sourceCell);
      body.insertBefore(row, body.firstChild);
      var none = document.getElementById("no-denials");
      if (none) none.remove();
      status.textContent = "Live: a new denial arrived.";
    });
  }

  function submitOnce() {
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent) { event.preventDefault(); return; }
        form.dataset.sent = "true";
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    timeline();
    // Laid out after the first frame, so the timeline is on screen before dagre starts work.
    requestAnimationFrame(function () { setTimeout(citationGraph, 0); });
    liveDenials();
    submitOnce();
  });
})();
