/**
 * The last part of the catalog page's script: drawing the page from the
 * embedded data (with pageScript.ts and pageTable.ts), the raw files'
 * table, the search box and deep links. Plain browser JavaScript.
 */
export const PAGE_MAIN_SCRIPT = `
var searchTerms = [];

function applySearchTo(v) {
  v.plan = searchTerms.length ? matchPlan(v, searchTerms) : null;
  v.el.hidden = !!v.plan && !v.plan.show;
  var tags = v.plan && v.plan.tags;
  var matchedTags = tags ? Object.keys(tags).length : 0;
  v.note.textContent = tags ? "(" + plural(matchedTags, "tag matches", "tags match") + ")" : "";
  if (!v.drawn) return;
  Object.keys(v.tagEls).forEach(function (tag) { v.tagEls[tag].details.hidden = !!tags && !(tag in tags); refreshTable(v, tag); });
}

function drawRaw(main) {
  if (DATA.raw.length === 0) return null;
  var section = el("section", { "aria-labelledby": "raw-files" });
  section.appendChild(el("h2", { id: "raw-files" }, "Raw files (" + DATA.raw.length + ")"));
  section.appendChild(el("p", { class: "note" }, "Plain files stored as they are: the name links to the file itself; its sha256 lets you check what you downloaded (sha256sum)."));
  var rows = DATA.raw.map(function (r) {
    var card = el("div", { class: "raw" }, [
      el("p", {}, [el("a", { href: r.href, download: r.file, class: "raw-name" }, r.file), " ", el("span", { class: "muted" }, "\u00b7 " + r.dtype + " \u00b7 " + fmtBytes(r.size) + " \u00b7 uploaded " + fmtTime(r.modified))]),
      el("p", { class: "sha" }, ["sha256 ", el("code", {}, r.sha256 || "not recorded")]),
      commandBox(pullCommand([r.dtype, r.file, "--raw"])),
    ]);
    return { el: card, hay: [r.dtype, r.file, r.sha256 || ""].join("\\n").toLowerCase() };
  });
  rows.forEach(function (r) { section.appendChild(r.el); });
  main.appendChild(section);
  return { section: section, rows: rows };
}

function drawPage() {
  var main = document.getElementById("catalog");
  if (WHERE.from && WHERE.from !== DATA.source) document.getElementById("source").textContent = WHERE.from;
  if (WHERE.note) document.getElementById("where-note").textContent = WHERE.note;
  var byType = {};
  DATA.datasets.forEach(function (ds) { (byType[ds.dtype] = byType[ds.dtype] || []).push(ds); });
  var sections = [];
  Object.keys(byType).forEach(function (dtype) {
    var list = byType[dtype];
    var section = el("section", { "aria-labelledby": "type-" + dtype });
    var heading = el("h2", { id: "type-" + dtype }, dtype + " (" + plural(list.length, "dataset", "datasets") + ")");
    section.appendChild(heading);
    if (KIND_NOTES[dtype]) section.appendChild(el("p", { class: "note" }, KIND_NOTES[dtype]));
    var frag = document.createDocumentFragment();
    var vs = list.map(function (ds) { var v = datasetView(ds); views.push(v); frag.appendChild(v.el); return v; });
    section.appendChild(frag);
    main.appendChild(section);
    sections.push({ section: section, views: vs, heading: heading, title: dtype });
  });
  var raw = drawRaw(main);
  var empty = el("p", { class: "empty", role: "status", hidden: "" });
  main.appendChild(empty);
  if (DATA.datasets.length === 0 && DATA.raw.length === 0) { empty.textContent = "Nothing has been pushed here yet."; empty.hidden = false; }
  var input = document.getElementById("search");
  var pending = 0;
  var run = function () {
    pending = 0;
    var q = input.value.trim().toLowerCase();
    searchTerms = q ? q.split(/\\s+/) : [];
    var shown = 0;
    views.forEach(function (v) { applySearchTo(v); if (!v.el.hidden) shown++; });
    sections.forEach(function (s) {
      var n = s.views.filter(function (v) { return !v.el.hidden; }).length;
      s.section.hidden = n === 0;
      s.heading.textContent = s.title + " (" + (n === s.views.length ? plural(n, "dataset", "datasets") : n + " of " + plural(s.views.length, "dataset", "datasets") + " match") + ")";
    });
    if (raw) {
      var rawShown = 0;
      raw.rows.forEach(function (r) { r.el.hidden = !searchTerms.every(function (t) { return r.hay.indexOf(t) !== -1; }); if (!r.el.hidden) rawShown++; });
      raw.section.hidden = rawShown === 0;
      shown += rawShown;
    }
    if (DATA.datasets.length + DATA.raw.length > 0) {
      empty.hidden = shown > 0;
      empty.textContent = "Nothing matches \\u201c" + input.value.trim() + "\\u201d.";
    }
  };
  input.addEventListener("input", function () { if (!pending) pending = requestAnimationFrame(run); });
  if (input.value) run();
}

/** Opens what the address's fragment names: #dtype.name or #dtype.name:tag. */
function openDeepLink() {
  var id = decodeURIComponent(location.hash.slice(1));
  if (!id) return;
  var m = /^([^.:]+)\\.([^:]+)(?::(.+))?$/.exec(id);
  if (!m) return;
  var v = views.find(function (x) { return x.ds.dtype === m[1] && x.ds.name === m[2]; });
  if (!v) return;
  if (v.el.hidden) { document.getElementById("search").value = ""; document.getElementById("search").dispatchEvent(new Event("input")); searchTerms = []; applySearchTo(v); }
  v.el.open = true;
  drawDataset(v);
  var target = v.el;
  if (m[3] && v.tagEls[m[3]]) { v.tagEls[m[3]].details.open = true; v.tagEls[m[3]].open(); target = v.tagEls[m[3]].details; }
  target.scrollIntoView({ block: "start" });
  target.querySelector("summary").focus({ preventScroll: true });
}

drawPage();
openDeepLink();
window.addEventListener("hashchange", openDeepLink);
`;
