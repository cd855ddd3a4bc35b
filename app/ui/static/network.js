// Draws the outlet network with sigma.js (WebGL) over a graphology graph. The page reads
// without it: the strongest flows are a table, and every outlet has its own page.
(function () {
  "use strict";

  // Layout steps per animation frame, and in all: small steps keep the page responsive while
  // thousands of outlets settle.
  var STEPS_PER_FRAME = 2;
  var STEPS = 120;

  function kindColours() {
    var colours = {};
    document.querySelectorAll("[data-legend] [data-kind]").forEach(function (item) {
      var swatch = item.querySelector(".swatch");
      colours[item.dataset.kind] = getComputedStyle(swatch).backgroundColor;
    });
    return colours;
  }

  // A fixed pseudo-random sequence, so the same network starts from the same positions.
  function sequence(seed) {
    return function () {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
  }

  function build(data, colours) {
    var graph = new graphology.DirectedGraph();
    var random = sequence(7);
    var most = 1;
    data.nodes.forEach(function (n) { most = Math.max(most, n.claims); });
    data.nodes.forEach(function (n) {
      graph.addNode(n.slug, {
        label: n.name,
        x: random() * 100,
        y: random() * 100,
        size: 3 + 15 * Math.sqrt(n.claims / most),
        color: colours[n.kind] || "#6b7280",
        kind: n.kind,
      });
    });
    data.edges.forEach(function (e) {
      if (!graph.hasNode(e.from_outlet) || !graph.hasNode(e.to_outlet)) return;
      graph.addDirectedEdge(e.from_outlet, e.to_outlet, {
        size: Math.min(1 + Math.log(e.citations), 6),
        color: "#c9ced6",
        type: "arrow",
      });
    });
    return graph;
  }

  function settle(graph, renderer) {
    var fa2 = graphologyLibrary.layoutForceAtlas2;
    var settings = fa2.inferSettings(graph);
    settings.barnesHutOptimize = graph.order > 500;
    var done = 0;
    function step() {
      fa2.assign(graph, { iterations: STEPS_PER_FRAME, settings: settings });
      renderer.refresh();
      done += STEPS_PER_FRAME;
      if (done < STEPS) window.requestAnimationFrame(step);
      else renderer.getContainer().dataset.settled = "true";
    }
    window.requestAnimationFrame(step);
  }

  function draw(container) {
    var status = document.querySelector("[data-network-status]");
    if (typeof Sigma === "undefined" || typeof graphology === "undefined") return;
    status.textContent = "Loading the network…";
    fetch(container.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data.nodes.length) { status.textContent = "No outlet carried a claim in this selection."; return; }
        var graph = build(data, kindColours());
        var renderer = new Sigma(graph, container, { renderEdgeLabels: false, defaultEdgeType: "arrow" });
        renderer.on("clickNode", function (event) {
          window.location.assign("/ui/outlets/" + encodeURIComponent(event.node));
        });
        renderer.on("enterNode", function () { container.style.cursor = "pointer"; });
        renderer.on("leaveNode", function () { container.style.cursor = ""; });
        // Kept on the element, for whoever scripts the page (tests find a node's place with it).
        container.sigma = renderer;
        status.textContent = graph.order + " outlets, " + graph.size + " flows. Select an outlet to open its record.";
        settle(graph, renderer);
      })
      .catch(function (error) { status.textContent = "The network could not be drawn (" + error.message + "); the table below lists its strongest flows."; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.querySelector("[data-network]");
    if (container) draw(container);
  });
})();
