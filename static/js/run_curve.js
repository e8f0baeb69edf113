// The loss curve of a training run: loss and accuracy per epoch of the evaluation model, then the final model,
// drawn with the local plotly.js (static/vendor/plotly). Used by the live section of /training/ and by a run's page.
// Plotly renders some HTML in names and hover text, so everything that came from data is escaped first.
(function () {
  "use strict";

  const PHASES = { evaluation: "evaluation model", final: "final model" };
  const COLOURS = { evaluation: "#d9822b", final: "#0b6bcb" };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function traces(curve) {
    const out = [];
    for (const [phase, points] of Object.entries(curve || {})) {
      if (!Array.isArray(points) || !points.length) continue;
      const name = escapeHtml(PHASES[phase] || phase);
      const colour = COLOURS[phase] || "#555";
      const epochs = points.map((p) => p.epoch);
      out.push({
        type: "scatter", mode: "lines+markers", name: `${name}: loss`, x: epochs, y: points.map((p) => p.loss),
        line: { color: colour }, marker: { size: 5 }, hovertemplate: `${name}<br>epoch %{x}<br>loss %{y:.4f}<extra></extra>`,
      });
      if (points.some((p) => p.accuracy !== null && p.accuracy !== undefined)) {
        out.push({
          type: "scatter", mode: "lines", name: `${name}: accuracy`, x: epochs, y: points.map((p) => p.accuracy), yaxis: "y2",
          line: { color: colour, dash: "dot" }, hovertemplate: `${name}<br>epoch %{x}<br>accuracy %{y:.3f}<extra></extra>`,
        });
      }
    }
    return out;
  }

  function draw(element, curve) {
    if (!window.Plotly || !element) return;
    const data = traces(curve);
    element.hidden = data.length === 0;
    if (!data.length) return;
    const layout = {
      margin: { l: 56, r: 56, t: 16, b: 44 }, height: 300,
      xaxis: { title: { text: "epoch" }, rangemode: "tozero", dtick: undefined },
      yaxis: { title: { text: "loss" }, rangemode: "tozero" },
      yaxis2: { title: { text: "accuracy" }, overlaying: "y", side: "right", range: [0, 1] },
      legend: { orientation: "h", y: -0.25 },
    };
    window.Plotly.react(element, data, layout, { displaylogo: false, responsive: true });
  }

  window.RunCurve = { draw, traces, escapeHtml };
})();
