// Live progress of a training run: polls its JSON every second, updates the bar, the phase line and the loss
// curve (static/js/run_curve.js). On /training/ the page reloads when the run ends; on a run's own page the
// finished curve simply stays.
(function () {
  "use strict";
  const section = document.querySelector(".run-live");
  if (!section) return;
  const bar = section.querySelector("progress");
  const status = section.querySelector(".run-status");
  const chart = section.querySelector(".run-curve");
  const reloadWhenDone = section.dataset.reload === "true";
  const FINISHED = ["succeeded", "failed", "cancelled"];

  function describe(run) {
    if (FINISHED.includes(run.status)) return run.version ? `${run.status} · version ${run.version}` : run.status;
    const parts = [run.status];
    if (run.phase) parts.push(run.phase_label || run.phase);
    if (run.epochs && ["evaluation", "final"].includes(run.phase)) parts.push(`epoch ${run.epoch}/${run.epochs}`);
    if (run.total_steps) parts.push(`step ${run.step}/${run.total_steps}`);
    if (run.loss !== null) parts.push(`loss ${run.loss.toFixed(4)}`);
    if (run.accuracy !== null) parts.push(`accuracy ${run.accuracy.toFixed(3)}`);
    if (run.examples_per_second) parts.push(`${Math.round(run.examples_per_second).toLocaleString()} examples/s`);
    if (run.eta_seconds !== null && run.status === "running") parts.push(`about ${Math.ceil(run.eta_seconds)} s left in this phase`);
    return parts.join(" · ");
  }

  async function poll() {
    try {
      const response = await fetch(section.dataset.runUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const run = await response.json();
      bar.value = run.fraction_done;
      status.textContent = describe(run) + (run.error ? ` — ${run.error.split("\n")[0]}` : "");
      if (window.RunCurve) window.RunCurve.draw(chart, run.curve);
      if (FINISHED.includes(run.status)) {
        if (reloadWhenDone) setTimeout(() => window.location.reload(), 1500);
        return;
      }
    } catch (error) {
      status.textContent = `Progress unavailable (${error.message}); retrying…`;
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
