// The autorec page: search, rate with stars, and recommendations that follow.
// Plain JavaScript, no build step; talks only to the server it came from.
"use strict";

const STORE = "autorec.ratings";
const SCALE = 5;
const K = 10;

const state = {
  ratings: new Map(), // item_id -> {rating, movie}
  token: null,
  searchSeq: 0,
  recSeq: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function readToken() {
  const match = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
  if (match) {
    sessionStorage.setItem("autorec.token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.token = sessionStorage.getItem("autorec.token");
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    const token = prompt("This server needs its access token:");
    if (token) {
      state.token = token.trim();
      sessionStorage.setItem("autorec.token", state.token);
      return api(path, options);
    }
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
  return body;
}

// "Matrix, The (1999)" -> "The Matrix": MovieLens moves articles to the end.
const ARTICLE = /^(.*), (The|A|An|Les|Le|La|L'|Il|Das|Der|Die|El|Los|Las)$/;

function plainTitle(movie) {
  let title = movie.year ? movie.title.replace(/\s*\(\d{4}\)\s*$/, "") : movie.title;
  const match = ARTICLE.exec(title);
  if (match) title = match[2].endsWith("'") ? match[2] + match[1] : `${match[2]} ${match[1]}`;
  return title;
}

function metaLine(movie, extra = []) {
  const parts = [];
  if (movie.year) parts.push(String(movie.year));
  if (movie.genres && movie.genres.length) parts.push(movie.genres.join(", "));
  parts.push(`${movie.n_ratings.toLocaleString()} ${movie.n_ratings === 1 ? "rating" : "ratings"}`);
  return [...parts, ...extra].join(" · ");
}

function stars(movie) {
  const current = state.ratings.get(movie.item_id)?.rating || 0;
  const group = el("span", { class: "stars", role: "group",
    "aria-label": `Your rating of ${plainTitle(movie)}` });
  for (let value = 1; value <= SCALE; value += 1) {
    group.append(el("button", {
      type: "button",
      class: value <= current ? "star on" : "star",
      "aria-label": `${value} star${value > 1 ? "s" : ""}`,
      "aria-pressed": value === current ? "true" : "false",
      "data-value": String(value),
      title: `${value} of ${SCALE}`,
      text: "★",
      onclick: () => rate(movie, value),
    }));
  }
  return group;
}

function movieItem(movie, withRemove = false) {
  const text = el("div", { class: "movie-text" },
    el("div", { class: "movie-title", text: plainTitle(movie) }),
    el("div", { class: "meta", text: metaLine(movie) }));
  const controls = el("span", { class: "stars-wrap" }, stars(movie));
  if (withRemove) {
    controls.append(el("button", {
      type: "button", class: "remove", text: "×", title: "Remove this rating",
      "aria-label": `Remove your rating of ${plainTitle(movie)}`,
      onclick: () => unrate(movie.item_id),
    }));
  }
  return el("li", { "data-item": String(movie.item_id) }, text, controls);
}

let lastResults = [];

function renderResults(movies) {
  lastResults = movies;
  const list = $("results");
  list.replaceChildren(...movies.map((m) => movieItem(m)));
}

function renderRated() {
  const items = [...state.ratings.values()];
  $("rated").replaceChildren(...items.map(({ movie }) => movieItem(movie, true)));
  $("rated-empty").hidden = items.length > 0;
  $("clear").hidden = items.length === 0;
  $("rated-count").textContent = items.length ? `(${items.length})` : "";
}

function save() {
  const plain = [...state.ratings.values()].map(({ rating, movie }) => ({ rating, movie }));
  localStorage.setItem(STORE, JSON.stringify(plain));
}

function load() {
  try {
    for (const { rating, movie } of JSON.parse(localStorage.getItem(STORE) || "[]")) {
      state.ratings.set(movie.item_id, { rating, movie });
    }
  } catch (error) {
    localStorage.removeItem(STORE);
  }
}

function rate(movie, value) {
  state.ratings.set(movie.item_id, { rating: value, movie });
  changed();
}

function unrate(itemId) {
  state.ratings.delete(itemId);
  changed();
}

function changed() {
  save();
  renderResults(lastResults);
  renderRated();
  refresh();
}

async function search(query) {
  const seq = ++state.searchSeq;
  try {
    const params = new URLSearchParams({ q: query, limit: "12" });
    const { movies } = await api(`/api/movies?${params}`);
    if (seq === state.searchSeq) renderResults(movies);
  } catch (error) {
    if (seq === state.searchSeq) {
      $("results").replaceChildren(el("li", { class: "error", text: error.message }));
    }
  }
}

function because(rec) {
  if (!rec.because.length) return el("p", { class: "because meta", text: "Popular with people like you" });
  const line = el("p", { class: "because" }, "Because you rated ");
  rec.because.forEach((b, i) => {
    if (i) line.append(i === rec.because.length - 1 ? " and " : ", ");
    line.append(el("b", { text: plainTitle({ title: b.title, year: true }) }), ` (${b.rating}★)`);
  });
  return line;
}

function renderRecs(recs) {
  $("recs").replaceChildren(...recs.map((rec, i) => {
    const predicted = rec.predicted_rating == null ? [] : [`you might give it ${rec.predicted_rating.toFixed(1)}★`];
    return el("li", { class: "rec", "data-item": String(rec.item_id) },
      el("span", { class: "rank", text: String(i + 1) }),
      el("div", { class: "rec-body" },
        el("div", { class: "movie-title", text: plainTitle(rec) }),
        el("div", { class: "meta", text: metaLine(rec, predicted) }),
        because(rec),
        el("div", { class: "seen" }, el("span", { class: "seen-label", text: "Seen it? Rate it:" }),
          stars(rec))));
  }));
}

async function refresh() {
  const seq = ++state.recSeq;
  if (state.ratings.size === 0) {
    $("recs").replaceChildren();
    $("status").textContent = "Rate at least one movie to get recommendations.";
    return;
  }
  $("status").textContent = "Updating…";
  const ratings = {};
  for (const [id, { rating }] of state.ratings) ratings[String(id)] = rating;
  try {
    const body = await api("/api/recommend", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ratings, k: K }),
    });
    if (seq !== state.recSeq) return;
    renderRecs(body.recommendations);
    const n = state.ratings.size;
    $("status").textContent = `From your ${n} rating${n > 1 ? "s" : ""}:`;
  } catch (error) {
    if (seq === state.recSeq) $("status").textContent = `Could not update: ${error.message}`;
  }
}

function start() {
  readToken();
  load();
  renderRated();
  let timer = null;
  $("search").addEventListener("input", (event) => {
    clearTimeout(timer);
    timer = setTimeout(() => search(event.target.value), 200);
  });
  $("clear").addEventListener("click", () => {
    state.ratings.clear();
    changed();
  });
  search("");
  refresh();
}

start();
