/**
 * The catalog page's script (plain browser JavaScript, inlined: no outside
 * script). It reads the embedded JSON (`#catalog-data`) and draws:
 * datasets by dtype as collapsed `<details>` whose contents are drawn the
 * first time they open (so a bucket of thousands of tags loads at once),
 * each tag with its facts, lineage, item table (pageTable.ts) and a pull
 * command filled in from the page's own URL; the raw files; the search
 * box filtering datasets, tags and items as one types; deep links
 * (`#Cohort.TestCohort:v1`) opening one tag.
 */
export const PAGE_SCRIPT = `
"use strict";
var DATA = JSON.parse(document.getElementById("catalog-data").textContent);

function el(tag, attrs, children) {
  var e = document.createElement(tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (children === undefined) return e;
  (Array.isArray(children) ? children : [children]).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
  return e;
}

function fmtBytes(n) {
  var units = ["B", "KiB", "MiB", "GiB", "TiB"], u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
  return (u === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + " " + units[u];
}
function fmtTime(iso) { var d = new Date(iso); return isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 16).replace("T", " ") + " UTC"; }
function plural(n, one, many) { return n.toLocaleString("en") + " " + (n === 1 ? one : many); }
function shellWord(s) { return /^[A-Za-z0-9_.:\\/@%+=,~-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\\\''") + "'"; }

/** Where a pull reads from: this page's folder when it is served over HTTP; else the bucket the page was written to. */
var WHERE = (function () {
  var u = new URL(location.href);
  if (u.protocol === "http:" || u.protocol === "https:") return { from: u.origin + u.pathname.replace(/\\/[^\\/]*$/, ""), note: "" };
  var folder = decodeURIComponent(u.pathname.replace(/\\/[^\\/]*$/, ""));
  if (/^https?:/.test(DATA.source)) return { from: DATA.source, note: "This page was opened from a file (" + folder + "); the commands read the bucket it was made for, " + DATA.source + ", which works when that bucket allows anonymous reads." };
  return { from: null, note: "This page was opened from a file (" + folder + "). To pull from that folder, serve it over HTTP (for example run python3 -m http.server in it) and add --from with its address, or pull with a minus80 config whose cloud.endpoint is the folder remote it belongs to." };
})();

function pullCommand(args) {
  return ["minus80", "cloud", "pull"].concat(args).concat(WHERE.from ? ["--from", WHERE.from] : []).map(shellWord).join(" ");
}

function commandBox(text) {
  var code = el("code", {}, text);
  var b = el("button", { type: "button", "aria-label": "Copy the command" }, "Copy");
  b.addEventListener("click", function () {
    var selectIt = function () { var r = document.createRange(); r.selectNodeContents(code); var s = getSelection(); s.removeAllRanges(); s.addRange(r); b.textContent = "Selected: press Ctrl+C"; };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(function () { b.textContent = "Copied"; }, selectIt);
    else selectIt();
  });
  return el("div", { class: "cmd" }, [code, b]);
}

function lineage(ds, tag) {
  var byTag = {}; ds.tags.forEach(function (t) { byTag[t.tag] = t; });
  var chain = [tag.tag], seen = {}, p = tag.parent;
  seen[tag.tag] = 1;
  while (p && !seen[p] && chain.length < 12) { seen[p] = 1; chain.push(byTag[p] ? p : p + " (not in this bucket)"); p = byTag[p] ? byTag[p].parent : null; }
  return chain.length === 1 ? "none (first tag)" : chain.join(" \\u2190 ");
}

var KIND_NOTES = { Cohort: "Sets of samples (accessions) with their metadata and read files." };
var views = [];

function datasetHay(ds) {
  if (!ds.hay) ds.hay = ds.tags.map(function (t) { return [t.tag.toLowerCase()].concat(t.summary ? itemHay(t.summary) : []).join("\\n"); });
  return ds.hay;
}

/** Which parts of dataset view v the search terms show: null (all), or per tag the terms its rows must match. */
function matchPlan(v, terms) {
  var own = (v.ds.dtype + "." + v.ds.name).toLowerCase();
  var rest = terms.filter(function (t) { return own.indexOf(t) === -1; });
  if (rest.length === 0) return { show: true, tags: null };
  var hay = datasetHay(v.ds), tags = {}, any = false;
  v.ds.tags.forEach(function (t, i) {
    if (!rest.every(function (x) { return hay[i].indexOf(x) !== -1; })) return;
    any = true;
    var rowTerms = rest.filter(function (x) { return t.tag.toLowerCase().indexOf(x) === -1; });
    tags[t.tag] = rowTerms.length ? rowTerms : null;
  });
  return { show: any, tags: tags };
}

function drawTag(v, t, box) {
  var facts = el("ul", { class: "facts" }, [
    el("li", {}, "Created " + fmtTime(t.created)),
    el("li", {}, fmtBytes(t.size)),
    el("li", {}, plural(t.files, "file", "files") + " stored in the tag"),
    el("li", {}, ["Checksum ", el("code", { title: "first 12 hex digits of the tag's total sha256" }, t.checksum)]),
  ]);
  box.appendChild(facts);
  box.appendChild(el("p", {}, ["Lineage (each tag made from the next): ", el("span", { class: "lineage" }, lineage(v.ds, t))]));
  box.appendChild(el("p", { class: "note" }, "Download this tag into your minus80 freezer:"));
  box.appendChild(commandBox(pullCommand([v.ds.dtype, v.ds.name, "--tag", t.tag])));
  if (t.summary) {
    var table = el("div", {});
    box.appendChild(table);
    v.tables[t.tag] = { box: table, summary: t.summary, state: { sort: null, filter: null, shown: ROW_STEP } };
  }
}

function drawDataset(v) {
  if (v.drawn) return;
  v.drawn = true;
  v.ds.tags.slice().reverse().forEach(function (t, i) {
    var d = el("details", { class: "tag", id: v.ds.dtype + "." + v.ds.name + ":" + t.tag });
    var s = el("summary", {}, [el("span", { class: "tag-name" }, t.tag), " \\u00b7 " + fmtBytes(t.size) + " in " + plural(t.files, "stored file", "stored files") + " \\u00b7 " + fmtTime(t.created) + (t.summary ? " \\u00b7 " + plural(t.summary.count, t.summary.kind.replace(/s$/, ""), t.summary.kind) : "")]);
    d.appendChild(s);
    var inner = el("div", {});
    d.appendChild(inner);
    var drawn = false;
    var open = function () { if (drawn) return; drawn = true; drawTag(v, t, inner); refreshTable(v, t.tag); };
    d.addEventListener("toggle", function () { if (d.open) open(); });
    v.tagEls[t.tag] = { details: d, open: open };
    if (i === 0 && v.ds.tags.length === 1) { d.open = true; open(); }
    v.body.appendChild(d);
  });
  applySearchTo(v);
}

function refreshTable(v, tag) {
  var tb = v.tables[tag];
  if (tb) drawItems(tb.box, tb.summary, tb.state, v.plan && v.plan.tags ? v.plan.tags[tag] || null : null);
}

function datasetView(ds) {
  var latest = ds.tags[ds.tags.length - 1];
  var items = latest && latest.summary ? " \\u00b7 " + plural(latest.summary.count, latest.summary.kind.replace(/s$/, ""), latest.summary.kind) : "";
  var d = el("details", { class: "dataset", id: ds.dtype + "." + ds.name });
  var note = el("span", { class: "note" });
  d.appendChild(el("summary", {}, [el("span", { class: "ds-name" }, ds.name), " \\u2014 " + plural(ds.tags.length, "tag", "tags") + " \\u00b7 newest " + latest.tag + ", " + fmtBytes(latest.size) + items + " ", note]));
  var body = el("div", { class: "ds-body" });
  d.appendChild(body);
  var v = { ds: ds, el: d, body: body, note: note, drawn: false, tagEls: {}, tables: {}, plan: null };
  d.addEventListener("toggle", function () { if (d.open) drawDataset(v); });
  return v;
}
`;
