/* Book autocomplete: the ARIA 1.2 combobox pattern over GET /api/books/?q=.
 *
 * Markup (templates/front/_search_box.html): <div data-autocomplete data-api="/api/books/" data-action="navigate|pick"
 * data-kind="like|dislike"> with an <input role="combobox"> and a <ul role="listbox">.
 * Keys: ArrowDown/ArrowUp move through the suggestions, Enter picks the highlighted one (or submits the form when
 * none is), Escape closes the list (and clears the field when it is already closed), Home/End stay in the text.
 * Picking: "navigate" opens the book page; "pick" adds the book to ?like= or ?dislike= of the "For me" page.
 */
(() => {
  "use strict";

  const DELAY_MS = 150;
  const LIMIT = 8;
  let counter = 0;

  function bookUrl(id) {
    return `/books/${id}/`;
  }

  function idsFrom(params, name) {
    return (params.get(name) || "").split(",").filter((s) => /^\d+$/.test(s)).map(Number);
  }

  function forMeUrl(kind, id) {
    const params = new URLSearchParams(window.location.search);
    const liked = idsFrom(params, "like").filter((i) => i !== id);
    const disliked = idsFrom(params, "dislike").filter((i) => i !== id);
    (kind === "dislike" ? disliked : liked).push(id);
    const parts = [];
    if (liked.length) parts.push(`like=${liked.join(",")}`);
    if (disliked.length) parts.push(`dislike=${disliked.join(",")}`);
    return `${window.location.pathname}?${parts.join("&")}`;
  }

  class Autocomplete {
    constructor(root) {
      this.root = root;
      this.input = root.querySelector("[role=combobox]");
      this.list = root.querySelector("[role=listbox]");
      this.status = root.querySelector("[data-status]");
      this.api = root.dataset.api || "/api/books/";
      this.action = root.dataset.action || "navigate";
      this.kind = root.dataset.kind || "like";
      this.books = [];
      this.active = -1;
      this.timer = 0;
      this.controller = null;
      this.prefix = `${this.input.id || `ac${++counter}`}-option-`;
      this.input.addEventListener("input", () => this.schedule());
      this.input.addEventListener("keydown", (event) => this.onKey(event));
      this.input.addEventListener("blur", () => window.setTimeout(() => this.close(), 150));
      this.input.addEventListener("focus", () => {
        if (this.books.length && this.input.value.trim()) this.open();
      });
      this.list.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus in the input
      this.list.addEventListener("click", (event) => {
        const option = event.target.closest("[role=option]");
        if (option) this.pick(Number(option.dataset.index));
      });
    }

    schedule() {
      window.clearTimeout(this.timer);
      const query = this.input.value.trim();
      if (!query) {
        this.books = [];
        this.render();
        return;
      }
      this.timer = window.setTimeout(() => this.fetch(query), DELAY_MS);
    }

    async fetch(query) {
      if (this.controller) this.controller.abort();
      this.controller = new AbortController();
      const url = `${this.api}?q=${encodeURIComponent(query)}&limit=${LIMIT}`;
      try {
        const response = await window.fetch(url, { signal: this.controller.signal, headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const data = await response.json();
        if (query !== this.input.value.trim()) return; // the text changed meanwhile
        this.books = data.results || [];
        this.render();
      } catch (error) {
        if (error.name !== "AbortError") {
          this.books = [];
          this.render();
          this.say("Suggestions are unavailable.");
        }
      }
    }

    render() {
      this.list.replaceChildren();
      this.active = -1;
      this.input.removeAttribute("aria-activedescendant");
      this.books.forEach((book, index) => {
        const option = document.createElement("li");
        option.id = `${this.prefix}${index}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.index = String(index);
        const title = document.createElement("span");
        title.className = "option-title";
        title.textContent = book.title ?? book.name; // books have titles, links names
        option.append(title);
        if (book.author) {
          const author = document.createElement("span");
          author.className = "option-author";
          author.textContent = book.author;
          option.append(" ", author);
        }
        this.list.append(option);
      });
      if (this.books.length) {
        this.open();
        this.say(`${this.books.length} suggestion${this.books.length === 1 ? "" : "s"}; use the arrow keys to choose.`);
      } else {
        this.close();
        if (this.input.value.trim()) this.say("No matching books.");
      }
    }

    open() {
      this.list.hidden = false;
      this.input.setAttribute("aria-expanded", "true");
    }

    close() {
      this.list.hidden = true;
      this.input.setAttribute("aria-expanded", "false");
      this.highlight(-1);
    }

    get isOpen() {
      return !this.list.hidden;
    }

    highlight(index) {
      const options = this.list.querySelectorAll("[role=option]");
      options.forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
      this.active = index;
      if (index >= 0 && options[index]) {
        this.input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        this.input.removeAttribute("aria-activedescendant");
      }
    }

    move(step) {
      if (!this.books.length) return;
      if (!this.isOpen) this.open();
      const count = this.books.length;
      const next = this.active < 0 ? (step > 0 ? 0 : count - 1) : (this.active + step + count) % count;
      this.highlight(next);
    }

    onKey(event) {
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          if (!this.books.length && this.input.value.trim()) this.fetch(this.input.value.trim());
          this.move(1);
          break;
        case "ArrowUp":
          event.preventDefault();
          this.move(-1);
          break;
        case "Enter":
          if (this.isOpen && this.active >= 0) {
            event.preventDefault();
            this.pick(this.active);
          }
          break;
        case "Escape":
          if (this.isOpen) {
            event.preventDefault();
            this.close();
          } else if (this.input.value) {
            event.preventDefault();
            this.input.value = "";
            this.books = [];
          }
          break;
        case "Tab":
          this.close();
          break;
        default:
      }
    }

    pick(index) {
      const book = this.books[index];
      if (!book) return;
      this.input.value = book.title ?? book.name;
      this.close();
      const detail = { book, kind: this.kind };
      const proceed = this.root.dispatchEvent(new CustomEvent("book-pick", { detail, bubbles: true, cancelable: true }));
      if (!proceed) return;
      this.say(`Opening ${book.title}`);
      window.location.assign(this.action === "pick" ? forMeUrl(this.kind, book.id) : bookUrl(book.id));
    }

    say(message) {
      if (this.status) this.status.textContent = message;
    }
  }

  function init() {
    document.querySelectorAll("[data-autocomplete]").forEach((root) => {
      if (!root.autocomplete) root.autocomplete = new Autocomplete(root);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
