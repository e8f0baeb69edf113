// Live progress of the current training run: polls its JSON every second and updates the bar.
(function () {
  "use strict";
  const section = document.querySelector(".run-live");
  if (!section) return;
  const bar = section.querySelector("progress");
  const status = section.querySelector(".run-status");

  function describe(run) {
    const parts = [run.status];
    if (run.phase) parts.push(run.phase);
    if (run.epochs) parts.push(`epoch ${run.epoch}/${run.epochs}`);
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
      if (["succeeded", "failed", "cancelled"].includes(run.status)) {
        setTimeout(() => window.location.reload(), 1500);
        return;
      }
    } catch (error) {
      status.textContent = `Progress unavailable (${error.message}); retrying…`;
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
