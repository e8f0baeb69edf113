/* The map (/map/, /map/links/): every book or link of a model version as one WebGL scatter (plotly scattergl).
 *
 * Data: GET data-data-url, the points of recommender/map/map_data.py (typed arrays as base64 "bdata"), is all the
 * first render needs; data-names-url (titles, authors, genres: most of the bytes) is fetched once the map is drawn.
 * Hover says "loading" until the names arrive; search and the side panel wait for them.
 * The points are drawn first, the legend (SVG text, a fifth of plotly's drawing time) right after them.
 * Performance marks map:fetched, map:unpacked, map:drawn, map:legend, map:names time the first render
 * (benchmarks/map_scale.py).
 * Hover: a tooltip of our own (textContent: no data ever goes through innerHTML or plotly's HTML hover labels).
 * Legend: plotly reads trace names as a little HTML (<b>, <a href>, entities), so group names are escaped first.
 * Click or search: a side panel with the point's nearest neighbours in the model's space (the JSON API), lines
 * to them on the map, and the ones the map puts far away marked as such.
 * State in the URL: ?book=ID (or ?link=ID), &colour=, &x0=&x1=&y0=&y1= (the zoom), kept with replaceState.
 * Folded-in books (the data's "folded" rows) were not projected: hover and the panel say so with the data's note.
 */
(() => {
  "use strict";

  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f", "#393b79", "#ad494a"];
  const OTHER_COLOUR = "#c8c8c8";
  const UNKNOWN_COLOUR = "#e6e6e6";
  const FAR_RANK = 100; // a model neighbour with more than this many points nearer on the map is "far on the map"
  const ZOOM_SPAN = 0.06; // share of the map's extent shown around a chosen point
  const HIGHLIGHT_MAX = 5000;

  const plot = document.getElementById("map-plot");
  if (!plot) return;
  const panel = document.getElementById("map-panel");
  const tooltip = document.getElementById("map-tooltip");
  const counter = document.getElementById("map-count");
  const colourSelect = document.getElementById("map-colour");
  const kind = plot.dataset.kind;
  const idParam = kind === "book" ? "book" : "link";

  const state = { data: null, names: null, x: null, y: null, ids: null, rowOf: new Map(), traceRows: [], groups: 0,
    selected: -1, highlighted: [], neighbours: [], query: "", folded: new Set(), foldedNote: "" };
  let namesLoaded = null; // a promise of the names, once their request has started

  function decode(typed) {
    const binary = atob(typed.bdata);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    const types = { u1: Uint8Array, u2: Uint16Array, u4: Uint32Array, i4: Int32Array, f4: Float32Array };
    return new types[typed.dtype](bytes.buffer);
  }

  function unpack(data) {
    const [x0, x1, y0, y1] = data.bounds;
    const qx = decode(data.x);
    const qy = decode(data.y);
    const n = data.points;
    state.x = new Float32Array(n);
    state.y = new Float32Array(n);
    for (let i = 0; i < n; i += 1) {
      state.x[i] = x0 + (qx[i] / 65535) * (x1 - x0);
      state.y[i] = y0 + (qy[i] / 65535) * (y1 - y0);
    }
    const deltas = decode(data.ids);
    state.ids = new Int32Array(n);
    let id = 0;
    for (let i = 0; i < n; i += 1) {
      id += deltas[i];
      state.ids[i] = id;
      state.rowOf.set(id, i);
    }
    state.colourCodes = {};
    Object.entries(data.colourings).forEach(([name, colouring]) => {
      state.colourCodes[name] = decode(colouring.codes);
    });
    state.folded = new Set(data.folded ? decode(data.folded.rows) : []);
    state.foldedNote = data.folded ? data.folded.note : "";
    state.data = data;
  }

  const escapeHtml = (text) =>
    String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  function unpackNames(names) {
    if (names.version !== state.data.version || names.points !== state.data.points) {
      throw new Error("the names are of another map version");
    }
    if (names.authors) {
      state.authorCodes = decode(names.authors.codes);
      state.genreCodes = decode(names.genres.codes);
    } else {
      state.bookCounts = decode(names.book_counts);
    }
    state.names = names;
  }

  async function fetchNames() {
    const response = await fetch(plot.dataset.namesUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    unpackNames(await response.json());
    performance.mark("map:names");
    plot.dataset.names = "true";
  }

  // The names, fetched once (a failed request is retried by the next caller).
  function names() {
    if (!namesLoaded) {
      namesLoaded = fetchNames().catch((error) => {
        namesLoaded = null;
        throw error;
      });
    }
    return namesLoaded;
  }

  const title = (i) => state.names.titles[i];
  const author = (i) => (state.authorCodes ? state.names.authors.values[state.authorCodes[i]] : "");
  const genre = (i) => (state.genreCodes ? state.names.genres.values[state.genreCodes[i]] : "");
  const pageUrl = (id) => plot.dataset.pageUrl.replace("ID", String(id));

  function colourOf(code, labels) {
    if (labels[code] === "other") return OTHER_COLOUR;
    if (labels[code] === "unknown") return UNKNOWN_COLOUR;
    return PALETTE[code % PALETTE.length];
  }

  function groupTraces(colouring) {
    const { labels } = state.data.colourings[colouring];
    const codes = state.colourCodes[colouring];
    const counts = new Uint32Array(labels.length);
    codes.forEach((code) => { counts[code] += 1; });
    const rows = labels.map((_, code) => new Int32Array(counts[code]));
    const fill = new Uint32Array(labels.length);
    codes.forEach((code, i) => { rows[code][fill[code]] = i; fill[code] += 1; });
    state.traceRows = [];
    const traces = [];
    // "other" and "unknown" first, so the coloured groups draw on top of them
    const order = labels.map((_, code) => code).sort((a, b) => {
      const rank = (c) => (labels[c] === "unknown" ? 0 : labels[c] === "other" ? 1 : 2);
      return rank(a) - rank(b) || a - b;
    });
    order.forEach((code) => {
      if (!counts[code]) return;
      const r = rows[code];
      const xs = new Float32Array(r.length);
      const ys = new Float32Array(r.length);
      r.forEach((row, j) => { xs[j] = state.x[row]; ys[j] = state.y[row]; });
      state.traceRows.push(r);
      traces.push({
        type: "scattergl", mode: "markers", x: xs, y: ys, name: `${escapeHtml(labels[code])} (${r.length})`,
        marker: { size: 4, color: colourOf(code, labels), opacity: 0.75 }, hoverinfo: "none",
      });
    });
    state.groups = traces.length;
    return traces;
  }

  function overlayTraces() {
    const pick = (rows, coords) => Float32Array.from(rows, (i) => coords[i]);
    const lineX = [];
    const lineY = [];
    const near = [];
    const far = [];
    if (state.selected >= 0) {
      state.neighbours.forEach((n) => {
        if (n.row < 0) return;
        lineX.push(state.x[state.selected], state.x[n.row], null);
        lineY.push(state.y[state.selected], state.y[n.row], null);
        (n.far ? far : near).push(n.row);
      });
    }
    const selected = state.selected >= 0 ? [state.selected] : [];
    return [
      { type: "scattergl", mode: "markers", x: pick(state.highlighted, state.x), y: pick(state.highlighted, state.y),
        name: "matches", showlegend: false, hoverinfo: "none",
        marker: { size: 9, color: "rgba(255,215,0,0.9)", line: { color: "#000", width: 1 } } },
      { type: "scattergl", mode: "lines", x: lineX, y: lineY, name: "neighbour lines", showlegend: false,
        hoverinfo: "none", line: { color: "rgba(0,0,0,0.55)", width: 1.5 } },
      { type: "scattergl", mode: "markers", x: pick(near, state.x), y: pick(near, state.y), name: "neighbours",
        showlegend: false, hoverinfo: "none", marker: { size: 9, color: "#000", symbol: "circle-open", line: { width: 2 } } },
      { type: "scattergl", mode: "markers", x: pick(far, state.x), y: pick(far, state.y), name: "far on the map",
        showlegend: false, hoverinfo: "none", marker: { size: 11, color: "#d00", symbol: "x-open", line: { width: 2 } } },
      { type: "scattergl", mode: "markers", x: pick(selected, state.x), y: pick(selected, state.y), name: "chosen",
        showlegend: false, hoverinfo: "none", marker: { size: 16, color: "#000", symbol: "star", line: { color: "#fff", width: 1 } } },
    ];
  }

  function rowOfPoint(point) {
    if (point.curveNumber >= state.groups) return -1;
    return state.traceRows[point.curveNumber][point.pointIndex];
  }

  // --- the URL ---
  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    const number = (name) => (params.has(name) && Number.isFinite(Number(params.get(name))) ? Number(params.get(name)) : null);
    const range = [number("x0"), number("x1"), number("y0"), number("y1")];
    return { id: number(idParam), colour: params.get("colour"), range: range.every((v) => v !== null) ? range : null };
  }

  function writeUrl() {
    const params = new URLSearchParams();
    if (state.selected >= 0) params.set(idParam, String(state.ids[state.selected]));
    params.set("colour", colourSelect.value);
    const layout = plot.layout || {};
    if (layout.xaxis && layout.yaxis && !layout.xaxis.autorange) {
      const round = (v) => Number(v).toPrecision(6);
      params.set("x0", round(layout.xaxis.range[0]));
      params.set("x1", round(layout.xaxis.range[1]));
      params.set("y0", round(layout.yaxis.range[0]));
      params.set("y1", round(layout.yaxis.range[1]));
    }
    window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
  }

  // --- drawing ---
  function layout(range, legend = true) {
    const axis = { visible: false, showgrid: false, zeroline: false };
    return {
      margin: { l: 0, r: 0, t: 0, b: 0 }, dragmode: "pan", hovermode: "closest", uirevision: "map",
      xaxis: range ? { ...axis, range: [range[0], range[1]], autorange: false } : { ...axis, autorange: true },
      yaxis: range ? { ...axis, range: [range[2], range[3]], autorange: false } : { ...axis, autorange: true },
      showlegend: legend,
      legend: { itemsizing: "constant", bgcolor: "rgba(255,255,255,0.85)", x: 0, y: 1, font: { size: 12 } },
      plot_bgcolor: "#fff", paper_bgcolor: "#fff",
    };
  }

  function currentRange() {
    const l = plot.layout;
    if (!l || l.xaxis.autorange) return null;
    return [...l.xaxis.range, ...l.yaxis.range];
  }

  function redraw() {
    return window.Plotly.react(plot, [...groupTraces(colourSelect.value), ...overlayTraces()], layout(currentRange()),
      plotConfig);
  }

  function redrawOverlays() {
    const first = state.groups;
    const traces = overlayTraces();
    return window.Plotly.restyle(plot, {
      x: traces.map((t) => t.x), y: traces.map((t) => t.y),
    }, traces.map((_, i) => first + i));
  }

  function zoomTo(row) {
    const [x0, x1, y0, y1] = state.data.bounds;
    const half = (Math.max(x1 - x0, y1 - y0) * ZOOM_SPAN) / 2;
    return window.Plotly.relayout(plot, {
      "xaxis.range": [state.x[row] - half, state.x[row] + half], "xaxis.autorange": false,
      "yaxis.range": [state.y[row] - half, state.y[row] + half], "yaxis.autorange": false,
    });
  }

  // --- tooltip ---
  function showTooltip(row, event) {
    tooltip.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = state.names ? title(row) : "Loading names…";
    tooltip.append(strong);
    let lines = [];
    if (state.names) lines = kind === "book" ? [author(row), genre(row)] : [`${state.bookCounts[row]} books`];
    if (state.folded.has(row)) lines.push(state.foldedNote);
    lines.filter(Boolean).forEach((text) => {
      const line = document.createElement("span");
      line.textContent = text;
      tooltip.append(line);
    });
    tooltip.hidden = false;
    const pad = 14;
    const x = Math.min(event.clientX + pad, window.innerWidth - tooltip.offsetWidth - 4);
    const y = Math.min(event.clientY + pad, window.innerHeight - tooltip.offsetHeight - 4);
    tooltip.style.left = `${x}px`;
    tooltip.style.top = `${y}px`;
  }

  // --- the side panel ---
  function mapRanks(row, others) {
    // how many points lie nearer to `row` on the map than each of `others`
    const dx = state.x;
    const dy = state.y;
    const d2 = new Float64Array(dx.length);
    for (let i = 0; i < dx.length; i += 1) d2[i] = (dx[i] - dx[row]) ** 2 + (dy[i] - dy[row]) ** 2;
    return others.map((o) => {
      if (o < 0) return null;
      let nearer = 0;
      for (let i = 0; i < d2.length; i += 1) if (d2[i] < d2[o] && i !== row) nearer += 1;
      return nearer;
    });
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function showPanel(visible) {
    if (panel.hidden === !visible) return;
    panel.hidden = !visible;
    window.Plotly.Plots.resize(plot); // the plot's column changed width: redraw the canvas to fit it
  }

  function renderPanel(row, results, problem) {
    panel.replaceChildren();
    showPanel(true);
    const close = element("button", "×", "map-panel-close");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", () => select(-1));
    const heading = element("h2", title(row));
    panel.append(close, heading);
    if (kind === "book") {
      if (author(row)) panel.append(element("p", `by ${author(row)}`, "byline"));
      if (genre(row)) panel.append(element("p", genre(row), "muted"));
      if (state.folded.has(row)) panel.append(element("p", state.foldedNote, "muted"));
    } else {
      panel.append(element("p", `used by ${state.bookCounts[row]} books`, "muted"));
    }
    const open = element("a", kind === "book" ? "Open the book page" : "Open the link page");
    open.href = pageUrl(state.ids[row]);
    panel.append(open);
    panel.append(element("h3", "Nearest in the model"));
    if (problem) {
      panel.append(element("p", problem, "notice"));
      return;
    }
    const list = element("ol", null, "map-neighbours");
    results.forEach((result, i) => {
      const n = state.neighbours[i];
      const item = element("li");
      const link = element("a", result.title ?? result.name);
      link.href = pageUrl(result.id);
      link.addEventListener("click", (event) => {
        if (n.row < 0 || event.ctrlKey || event.metaKey) return;
        event.preventDefault();
        select(n.row, true);
      });
      item.append(link);
      item.append(" ", element("span", result.similarity.toFixed(2), "score"));
      if (n.row < 0) item.append(" ", element("span", "not on this map", "map-badge"));
      else if (n.far) item.append(" ", element("span", "far on the map", "map-badge map-badge--far"));
      if (result.shared_links && result.shared_links.length) {
        item.append(element("span", `also links to ${result.shared_links.join(", ")}`, "map-shared"));
      }
      list.append(item);
    });
    panel.append(list);
    if (state.neighbours.some((n) => n.far)) {
      panel.append(element("p", `Marked ✕ on the map: more than ${FAR_RANK} points lie nearer on the map, though the model ranks them among the closest.`, "muted"));
    }
  }

  let selectToken = 0;
  async function select(row, zoom = false) {
    selectToken += 1;
    const token = selectToken;
    state.selected = row;
    state.neighbours = [];
    if (row < 0) {
      showPanel(false);
      panel.replaceChildren();
      await redrawOverlays();
      writeUrl();
      return;
    }
    if (zoom) await zoomTo(row);
    // asked before the names are awaited, so that a first click does not wait for one request after the other
    const asked = fetch(plot.dataset.similarUrl.replace("ID", String(state.ids[row])), { headers: { Accept: "application/json" } });
    asked.catch(() => {}); // reported below, once the names are there
    try {
      await names();
    } catch (error) {
      if (token !== selectToken) return;
      panel.replaceChildren(element("p", `The map's names are unavailable: ${error.message}`, "notice"));
      showPanel(true);
      return;
    }
    if (token !== selectToken) return;
    renderPanel(row, [], null);
    panel.append(element("p", "Loading neighbours…", "muted"));
    await redrawOverlays();
    writeUrl();
    try {
      const response = await asked;
      const body = await response.json();
      if (token !== selectToken) return;
      if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
      const rows = body.results.map((r) => (state.rowOf.has(r.id) ? state.rowOf.get(r.id) : -1));
      const ranks = mapRanks(row, rows);
      state.neighbours = rows.map((r, i) => ({ row: r, far: ranks[i] !== null && ranks[i] > FAR_RANK }));
      renderPanel(row, body.results, null);
      plot.dataset.neighbours = String(state.neighbours.filter((n) => n.row >= 0).length);
      await redrawOverlays();
    } catch (error) {
      if (token === selectToken) renderPanel(row, [], `Neighbours are unavailable: ${error.message}`);
    }
  }

  // --- search ---
  async function highlight(query) {
    const q = query.trim().toLowerCase();
    state.query = q;
    state.highlighted = [];
    if (q.length >= 2) {
      try {
        await names();
      } catch (error) {
        counter.textContent = `Search is unavailable: ${error.message}`;
        return;
      }
      if (state.query !== q) return; // typed on while the names arrived
      const titles = state.names.titles;
      for (let i = 0; i < titles.length && state.highlighted.length < HIGHLIGHT_MAX; i += 1) {
        if (titles[i].toLowerCase().includes(q) || author(i).toLowerCase().includes(q)) state.highlighted.push(i);
      }
    }
    counter.textContent = q.length >= 2 ? `${state.highlighted.length} match${state.highlighted.length === 1 ? "" : "es"} highlighted` : "";
    redrawOverlays();
  }

  const plotConfig = { scrollZoom: true, displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  async function start() {
    const restored = readUrl();
    if (restored.colour && [...colourSelect.options].some((o) => o.value === restored.colour)) colourSelect.value = restored.colour;
    let response;
    try {
      response = await fetch(plot.dataset.dataUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error((await response.json()).error || `HTTP ${response.status}`);
      const data = await response.json();
      performance.mark("map:fetched");
      unpack(data);
      performance.mark("map:unpacked");
    } catch (error) {
      document.getElementById("map-loading").textContent = `The map could not be loaded: ${error.message}`;
      return;
    }
    document.getElementById("map-loading").remove();
    await window.Plotly.newPlot(plot, [...groupTraces(colourSelect.value), ...overlayTraces()], layout(restored.range, false),
      plotConfig);
    performance.mark("map:drawn");
    await window.Plotly.relayout(plot, { showlegend: true });
    performance.mark("map:legend");
    plot.dataset.ready = "true";
    names().catch(() => {}); // after the first render, so the names never delay it; callers report failures
    counter.textContent = `${state.data.points.toLocaleString("en")} ${kind}s`;

    plot.on("plotly_hover", (event) => {
      const row = rowOfPoint(event.points[0]);
      const mouse = event.event || { clientX: 0, clientY: 0 };
      if (row >= 0) showTooltip(row, mouse);
    });
    plot.on("plotly_unhover", () => { tooltip.hidden = true; });
    plot.on("plotly_click", (event) => {
      const row = rowOfPoint(event.points[0]);
      if (row >= 0) select(row);
    });
    plot.on("plotly_relayout", () => writeUrl());
    colourSelect.addEventListener("change", async () => { await redraw(); writeUrl(); });

    const search = document.querySelector(".map-search [data-autocomplete]");
    const input = document.getElementById("map-q");
    let timer = 0;
    input.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => highlight(input.value), 120);
    });
    search.addEventListener("book-pick", (event) => {
      event.preventDefault(); // stay on the map instead of opening the page
      const row = state.rowOf.get(event.detail.book.id);
      highlight(input.value);
      if (row === undefined) {
        counter.textContent = `“${input.value}” is not on this map (it had no links when the model was trained)`;
        return;
      }
      select(row, true);
    });

    if (restored.id !== null) {
      const row = state.rowOf.get(restored.id);
      if (row !== undefined) await select(row, !restored.range);
      else counter.textContent = `That ${kind} is not on this map.`;
    }
    writeUrl();
  }

  function whenPlotly() {
    if (window.Plotly) start();
    else window.addEventListener("load", start, { once: true });
  }
  whenPlotly();
})();
