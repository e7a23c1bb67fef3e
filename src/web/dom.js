// Small helpers shared by the views: building elements without innerHTML (so that no name from
// the API is ever parsed as markup) and formatting numbers for people.

/**
 * Makes an element. `attributes` are set as attributes (class, href, data-*), except that
 * `text` sets the text content; children are nodes or strings.
 * @param {string} tag
 * @param {Record<string, string | number | boolean | undefined>} [attributes]
 * @param {...(Node | string)} children
 * @returns {HTMLElement}
 */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  element.append(...children);
  return element;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Like `el`, for SVG elements. */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setAttributes(element, attributes);
  element.append(...children);
  return element;
}

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === "text") element.textContent = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
}

/**
 * A table with a header row and one row per item; each cell carries its column's name, so that
 * with `cards` (for tables too wide for a phone) the stylesheet can show each row as a card.
 */
export function table(caption, columns, rows, { cards = false } = {}) {
  const head = el("tr", {}, ...columns.map((column) => el("th", { scope: "col", text: column })));
  const body = rows.map((cells) =>
    el("tr", {}, ...cells.map((cell, i) => el("td", { "data-label": columns[i] }, cell))),
  );
  return el(
    "table",
    { class: cards ? "cards" : undefined },
    el("caption", { text: caption }),
    el("thead", {}, head),
    el("tbody", {}, ...body),
  );
}

/** A definition list from [term, description] pairs. */
export function facts(pairs) {
  return el(
    "dl",
    { class: "facts" },
    ...pairs.flatMap(([term, description]) => [
      el("dt", { text: term }),
      el("dd", {}, description),
    ]),
  );
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 is "1.5 KiB": binary units, as storage sizes are counted in tracks of 4 KiB multiples. */
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A share as a percentage: "0%" only when nothing, "<1%" for a little, else whole numbers. */
export function formatPercent(part, whole) {
  if (whole <= 0 || part <= 0) return "0%";
  const percent = (100 * part) / whole;
  if (percent < 1) return "<1%";
  if (percent > 99 && part < whole) return ">99%";
  return `${Math.round(percent)}%`;
}

export function formatCount(count) {
  return count.toLocaleString("en-US");
}

/** "2026-01-01T00:00:00.000Z" as "2026-01-01 00:00:00 UTC"; anything else as it came. */
export function formatSince(since) {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?Z$/.exec(since);
  return match === null ? since : `${match[1]} ${match[2]} UTC`;
}

/** A bar showing a share, with the share in text beside it so that it reads without the bar. */
export function shareBar(part, whole, label) {
  const percent = whole > 0 ? Math.min(100, (100 * part) / whole) : 0;
  const fill = el("span", { class: "share-fill" });
  fill.style.width = `${percent}%`;
  return el(
    "span",
    { class: "share" },
    el("span", { class: "share-bar", "aria-hidden": "true" }, fill),
    el("span", { class: "share-text", text: label ?? formatPercent(part, whole) }),
  );
}
