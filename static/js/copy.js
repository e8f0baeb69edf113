/* "Copy" buttons next to code snippets: <button data-copy="id-of-the-code-element">. */
(() => {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch {
        const range = document.createRange(); // no clipboard access (e.g. plain http): select it for Ctrl+C
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
      window.setTimeout(() => {
        button.textContent = label;
      }, 2000);
    });
  });
})();
