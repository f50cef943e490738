/**
 * The part of the catalog page's script that draws a tag's item table (a
 * Cohort's accessions, from the tag's `summary`): columns sort by a button
 * in their header (keyboard-usable, `aria-sort` says the order), a select
 * filters by one metadata value, the search box's terms filter rows, and
 * only ROW_STEP rows are drawn until "show more" asks for more, so a Cohort
 * of thousands of accessions opens at once. Plain browser JavaScript,
 * inlined into the page with pageScript.ts (which defines `el`).
 */
export const PAGE_TABLE_SCRIPT = `
var ROW_STEP = 200;
var MAX_FILTER_VALUES = 60;

function itemHay(summary) {
  if (!summary.hay) summary.hay = summary.items.map(function (i) {
    return [i.name].concat(i.values.map(function (v) { return v === null ? "" : String(v); }), i.aliases, i.files).join("\\n").toLowerCase();
  });
  return summary.hay;
}

function cellText(v) { return v === null || v === undefined ? "" : typeof v === "boolean" ? (v ? "true" : "false") : String(v); }

function compareValues(a, b) {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
}

/** Draws (or redraws) the table of summary's items into box; state persists sort, filter and rows shown. */
function drawItems(box, summary, state, rowTerms) {
  box.textContent = "";
  var cols = ["Accession"].concat(summary.columns, ["Files", "Aliases"]);
  var label = summary.kind.charAt(0).toUpperCase() + summary.kind.slice(1);
  var hay = itemHay(summary);
  var idx = [];
  for (var n = 0; n < summary.items.length; n++) {
    var item = summary.items[n];
    if (state.filter && cellText(item.values[state.filter.col]) !== state.filter.value) continue;
    if (rowTerms && !rowTerms.every(function (t) { return hay[n].indexOf(t) !== -1; })) continue;
    idx.push(n);
  }
  if (state.sort) {
    var c = state.sort.col, dir = state.sort.dir;
    var key = function (i) { var it = summary.items[i]; return c === 0 ? it.name : c <= summary.columns.length ? it.values[c - 1] : c === cols.length - 2 ? it.files.join(" ") : it.aliases.join(" "); };
    idx.sort(function (a, b) { return dir * compareValues(key(a), key(b)) || a - b; });
  }
  var controls = el("div", { class: "controls" });
  if (summary.columns.length > 0) {
    var select = el("select", { "aria-label": "Show only " + summary.kind + " with this metadata value" });
    select.appendChild(el("option", { value: "" }, "All " + summary.kind));
    summary.columns.forEach(function (col, ci) {
      var seen = {}, values = [];
      summary.items.forEach(function (it) { var v = cellText(it.values[ci]); if (v !== "" && !seen[v]) { seen[v] = 1; values.push(v); } });
      if (values.length === 0 || values.length > MAX_FILTER_VALUES) return;
      var group = el("optgroup", { label: col });
      values.sort(compareValues).forEach(function (v) {
        var o = el("option", { value: ci + "\\u0000" + v }, col + " = " + v);
        if (state.filter && state.filter.col === ci && state.filter.value === v) o.selected = true;
        group.appendChild(o);
      });
      select.appendChild(group);
    });
    select.addEventListener("change", function () {
      var v = select.value;
      state.filter = v === "" ? null : { col: Number(v.split("\\u0000")[0]), value: v.slice(v.indexOf("\\u0000") + 1) };
      state.shown = ROW_STEP;
      drawItems(box, summary, state, rowTerms);
      box.querySelector("select").focus();
    });
    controls.appendChild(el("label", {}, ["Filter: ", select]));
  }
  var count = summary.count > summary.items.length ? " (this summary lists the first " + summary.items.length.toLocaleString("en") + " of " + summary.count.toLocaleString("en") + ")" : "";
  controls.appendChild(el("span", { class: "note", role: "status" }, "Showing " + Math.min(idx.length, state.shown).toLocaleString("en") + " of " + idx.length.toLocaleString("en") + " " + summary.kind + (idx.length !== summary.items.length ? " matching" : "") + count));
  box.appendChild(controls);
  var table = el("table", { "aria-label": label + " of this tag" });
  box.appendChild(el("p", { class: "note" }, label + " of this tag, with their metadata, files and aliases. Files are as recorded: paths under reads/ travel with the tag; other paths and URLs point to where the data lives."));
  var tr = el("tr", {});
  cols.forEach(function (name, ci) {
    var th = el("th", { scope: "col" });
    if (state.sort && state.sort.col === ci) th.setAttribute("aria-sort", state.sort.dir > 0 ? "ascending" : "descending");
    var b = el("button", { type: "button", title: "Sort by " + name }, name);
    b.addEventListener("click", function () {
      state.sort = state.sort && state.sort.col === ci ? { col: ci, dir: -state.sort.dir } : { col: ci, dir: 1 };
      drawItems(box, summary, state, rowTerms);
      box.querySelectorAll("th button")[ci].focus();
    });
    th.appendChild(b);
    tr.appendChild(th);
  });
  var head = el("thead", {}, [tr]);
  var body = el("tbody", {});
  idx.slice(0, state.shown).forEach(function (i) {
    var it = summary.items[i];
    var row = el("tr", {}, [el("th", { scope: "row" }, it.name)]);
    it.values.forEach(function (v) { row.appendChild(v === null ? el("td", { class: "muted", title: "no value" }, "\u2014") : el("td", {}, cellText(v))); });
    var files = el("td", { class: "files" });
    it.files.forEach(function (f, k) { if (k) files.appendChild(el("br", {})); files.appendChild(document.createTextNode(f)); });
    row.appendChild(files);
    row.appendChild(el("td", {}, it.aliases.join(", ")));
    body.appendChild(row);
  });
  table.appendChild(head);
  table.appendChild(body);
  var wrap = el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label + " table" }, [table]);
  box.appendChild(wrap);
  // A table wider than the screen scrolls inside its box: say so, or the last columns look missing.
  if (wrap.scrollWidth > wrap.clientWidth + 2) box.insertBefore(el("p", { class: "note" }, "\u2194 The table is wider than the window: scroll it sideways for the " + (cols.length > 4 ? "other columns (Files, Aliases)" : "other columns") + "."), wrap);
  if (idx.length > state.shown) {
    var more = el("button", { type: "button" }, "Show " + Math.min(ROW_STEP, idx.length - state.shown) + " more (" + (idx.length - state.shown).toLocaleString("en") + " not shown)");
    more.addEventListener("click", function () { state.shown += ROW_STEP; drawItems(box, summary, state, rowTerms); });
    box.appendChild(more);
  }
}
`;
