/* Book recommendations for any web page.
 *
 *   <div data-book-recommendations="Dune" data-k="5"></div>
 *   <script src="https://RECOMMENDER/static/widget.js" async></script>
 *
 * The value is a book id or a title (an exact title match is preferred, else the best search match). The script
 * calls the recommender's JSON API on the origin it was loaded from (CORS allows it) and renders cards inside a
 * shadow root, so the host page's styles and the widget's do not touch each other. Elements added later can be
 * rendered with window.BookRecommendations.render(element).
 *
 * It works under the host page's Content-Security-Policy when that allows this script and connecting to its origin
 * (script-src and connect-src): the styles are a constructed stylesheet and element styles are set through the CSSOM,
 * neither of which CSP counts as inline style, and no inline script or handler is written.
 */
(() => {
  "use strict";

  const script =
    document.currentScript || document.querySelector('script[src*="widget.js"]') || { src: window.location.href };
  const ORIGIN = new URL(script.src, window.location.href).origin;
  let limits; // the server's limits for data-k (/api/widget/), asked once per page

  const STYLE = `
    :host { all: initial; display: block; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
            color: #1d1d1f; max-width: 28rem; }
    * { box-sizing: border-box; }
    .box { border: 1px solid #ddd; border-radius: 8px; background: #fff; padding: .75rem; }
    .head { margin: 0 0 .5rem; font-weight: 600; }
    .head a { color: inherit; }
    ol { list-style: none; margin: 0; padding: 0; display: grid; gap: .5rem; }
    a.card { display: flex; gap: .65rem; align-items: center; padding: .35rem; border-radius: 6px;
             text-decoration: none; color: inherit; }
    a.card:hover { background: #f3f6fb; }
    a.card:focus-visible, .foot a:focus-visible, .head a:focus-visible { outline: 3px solid #f5c211; outline-offset: 1px; }
    .cover { position: relative; flex: none; width: 40px; height: 60px; border-radius: 3px; overflow: hidden;
             background: linear-gradient(135deg, hsl(var(--hue, 215) 60% 40%), hsl(calc(var(--hue, 215) + 50) 45% 30%)); color: #fff; display: grid; place-items: center;
             font-weight: 700; font-size: 13px; }
    .cover img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: cover; background: #eee; }
    .text { min-width: 0; display: grid; gap: .1rem; }
    .title { font-weight: 600; color: #1a5fb4; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .author { color: #666; font-size: 13px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .sim { display: flex; gap: .4rem; align-items: center; color: #666; font-size: 12px; }
    .bar { width: 70px; height: 6px; border-radius: 3px; background: #e6e6e6; overflow: hidden; }
    .bar span { display: block; height: 100%; background: #1a5fb4; }
    .error { margin: 0; color: #6b4e00; background: #fff7d6; border-radius: 6px; padding: .6rem .75rem; }
    .loading { margin: 0; color: #666; }
    .foot { margin: .5rem 0 0; font-size: 12px; color: #666; text-align: right; }
    .foot a { color: #666; }
  `;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  class WidgetError extends Error {}

  async function getJson(path) {
    let response;
    try {
      response = await fetch(ORIGIN + path, { headers: { Accept: "application/json" } });
    } catch {
      throw new WidgetError("The recommender cannot be reached right now.");
    }
    if (response.status === 503) throw new WidgetError("No recommendations yet: the recommender has no trained model.");
    if (response.status === 404) throw new WidgetError("No recommendations for this book: it is not in the model.");
    if (!response.ok) throw new WidgetError(`The recommender answered with an error (HTTP ${response.status}).`);
    return response.json();
  }

  async function resolveBook(value) {
    if (/^\d+$/.test(value)) return Number(value);
    const data = await getJson(`/api/books/?q=${encodeURIComponent(value)}&limit=10`);
    const results = data.results || [];
    const wanted = value.trim().toLowerCase();
    const book = results.find((b) => b.title.toLowerCase() === wanted) || results[0];
    if (!book) throw new WidgetError(`No book called “${value}” in the recommender.`);
    return book.id;
  }

  function bookLink(id) {
    return `${ORIGIN}/books/${id}/`;
  }

  function initials(title) {
    const words = title.match(/[\p{L}\p{N}]+/gu) || ["?"];
    return words.slice(0, 2).map((w) => w[0]).join("").toUpperCase();
  }

  function card(book) {
    const hue = (book.id * 137) % 360; // as the site's placeholders
    const cover = el("span", { class: "cover", "aria-hidden": "true" }, initials(book.title));
    cover.style.setProperty("--hue", String(hue));
    if (book.cover_url) {
      const img = el("img", { src: book.cover_url, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
      img.addEventListener("error", () => img.remove());
      cover.append(img);
    }
    const percent = Math.round(Math.max(0, Math.min(1, book.similarity)) * 100);
    const fill = el("span");
    fill.style.width = `${percent}%`;
    const bar = el("span", { class: "bar", "aria-hidden": "true" }, fill);
    return el(
      "li",
      {},
      el(
        "a",
        { class: "card", href: bookLink(book.id), target: "_blank", rel: "noopener" },
        cover,
        el(
          "span",
          { class: "text" },
          el("span", { class: "title" }, book.title),
          book.author ? el("span", { class: "author" }, book.author) : null,
          el("span", { class: "sim" }, bar, `${percent}% similar`),
        ),
      ),
    );
  }

  let sheet = null;
  function shell(host) {
    const root = host.shadowRoot || host.attachShadow({ mode: "open" });
    const box = el("div", { class: "box", part: "box" });
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet.prototype.replaceSync === "function") {
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(STYLE);
      }
      root.adoptedStyleSheets = [sheet];
      root.replaceChildren(box);
    } else {
      root.replaceChildren(el("style", {}, STYLE), box); // older browsers: a <style>, which a strict host CSP refuses
    }
    return box;
  }

  function footer() {
    return el("p", { class: "foot" }, "by ", el("a", { href: `${ORIGIN}/`, target: "_blank", rel: "noopener" }, "Book recommender"));
  }

  async function render(host) {
    const value = (host.dataset.bookRecommendations || "").trim();
    const box = shell(host);
    host.setAttribute("aria-busy", "true");
    box.append(el("p", { class: "loading" }, "Loading recommendations…"));
    try {
      if (!value) throw new WidgetError("No book named: set data-book-recommendations to a title or an id.");
      limits ||= getJson("/api/widget/");
      const { default_k: defaultK, max_k: maxK } = await limits;
      const k = Math.max(1, Math.min(maxK, parseInt(host.dataset.k, 10) || defaultK));
      const id = await resolveBook(value);
      const data = await getJson(`/api/books/${id}/similar/?k=${k}`);
      const head = el(
        "p",
        { class: "head" },
        "Books like ",
        el("a", { href: bookLink(data.book.id), target: "_blank", rel: "noopener" }, data.book.title),
      );
      const list = el("ol", { "aria-label": `Books like ${data.book.title}` }, ...data.results.map(card));
      box.replaceChildren(head, data.results.length ? list : el("p", { class: "error" }, "No similar books found."));
    } catch (error) {
      const message = error instanceof WidgetError ? error.message : "The recommendations could not be shown.";
      box.replaceChildren(el("p", { class: "error", role: "status" }, message));
      host.dataset.bookRecommendationsError = "true";
    }
    box.append(footer());
    host.removeAttribute("aria-busy");
    host.dataset.bookRecommendationsReady = "true";
  }

  function renderAll() {
    document.querySelectorAll("[data-book-recommendations]").forEach((host) => {
      if (!host.dataset.bookRecommendationsReady && host.getAttribute("aria-busy") !== "true") render(host);
    });
  }

  window.BookRecommendations = { render, renderAll, origin: ORIGIN };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", renderAll);
  else renderAll();
})();
