// A book whose fold-in is queued says "recommendations in a moment": poll the book's API answer and reload the page
// once its vector is no longer pending (folded in, or why not), so the recommendations appear without a click.
(function () {
  "use strict";
  const notice = document.querySelector(".fold-in-pending[data-book-url]");
  if (!notice) return;
  const started = Date.now();

  async function poll() {
    try {
      const response = await fetch(notice.dataset.bookUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const book = await response.json();
        if (book.vector && book.vector.state !== "pending") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // the next poll tries again
    }
    if (Date.now() - started < 10 * 60 * 1000) setTimeout(poll, 500);
  }
  setTimeout(poll, 300);
})();
