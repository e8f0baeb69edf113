// A cover image that fails to load (offline, gone upstream, blocked) is removed, so the same-sized placeholder
// behind it shows. One listener on the document instead of inline onerror="" handlers, which the Content-Security-
// Policy refuses: error events do not bubble, but they pass the document on their way down (capture). Loaded in
// <head> without defer, so it listens before the first <img> is parsed.
(() => {
  "use strict";
  document.addEventListener(
    "error",
    (event) => {
      const image = event.target;
      if (image instanceof HTMLImageElement && image.hasAttribute("data-cover")) image.remove();
    },
    true,
  );
})();
