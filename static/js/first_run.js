// While a model trains, pages without recommendations poll the public /model-status/ and show how far it is;
// when a new model is served the page reloads itself to show them. Only a change of the served version reloads
// (the version the page was rendered with is in data-version), so a page can never reload in a loop.
(function () {
  "use strict";
  if (window.firstRunPolling) return; // a page with several notices includes this script more than once
  window.firstRunPolling = true;
  const notices = Array.from(document.querySelectorAll(".first-run[data-status-url]"));
  if (!notices.length) return;
  const notice = notices[0];
  const renderedWith = notice.dataset.version;

  function show(fraction, text) {
    for (const each of notices) {
      if (fraction !== null) each.querySelector("progress").value = fraction;
      each.querySelector(".first-run-phase").textContent = text;
    }
  }

  async function poll() {
    try {
      const response = await fetch(notice.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const status = await response.json();
      if (status.version && status.version !== renderedWith) {
        show(1, "Done: loading the recommendations…");
        window.location.reload();
        return;
      }
      if (status.training) {
        const percent = Math.round(status.training.fraction_done * 100);
        show(status.training.fraction_done, `${status.training.phase_label} · ${percent}% done`);
      } else {
        show(null, "The training run ended without a new model; a librarian can start another.");
        return;
      }
    } catch (error) {
      show(null, `Progress unavailable (${error.message}); retrying…`);
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
