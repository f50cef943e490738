/**
 * The catalog page's style sheet, inlined into the page (no outside
 * stylesheet or font: it works offline). System fonts; text at least 7:1
 * against its background, links and buttons at least 4.5:1; one column on
 * a phone, tables scroll sideways inside their box rather than the page.
 */
export const PAGE_STYLE = `
:root { --fg: #1b1b1b; --muted: #4a4a4a; --bg: #ffffff; --panel: #f4f6f8; --line: #c9d1d9; --accent: #0b4f9c; --mark: #fff1a8; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 76rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1rem; }
h1 { font-size: 1.6rem; margin: .2rem 0; }
h2 { font-size: 1.3rem; margin: 1.6rem 0 .5rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .4rem; }
p { margin: .4rem 0; }
a { color: var(--accent); }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .9em; }
.muted { color: var(--muted); }
.intro { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .9rem; margin: .6rem 0; }
.search { position: sticky; top: 0; background: var(--bg); padding: .6rem 0; z-index: 2; border-bottom: 1px solid var(--line); }
.search label { font-weight: 600; display: block; margin-bottom: .2rem; }
input[type=search] { width: 100%; font: inherit; padding: .5rem .7rem; border: 2px solid #6a737d; border-radius: 6px; }
input[type=search]:focus, select:focus, button:focus, summary:focus, a:focus { outline: 3px solid #f59e0b; outline-offset: 2px; }
details.dataset { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; background: var(--bg); }
details.dataset > summary { cursor: pointer; padding: .55rem .8rem; background: var(--panel); border-radius: 6px; list-style-position: inside; }
details.dataset[open] > summary { border-bottom: 1px solid var(--line); border-radius: 6px 6px 0 0; }
.ds-name { font-weight: 700; font-size: 1.08rem; }
.ds-body { padding: .4rem .8rem .8rem; }
details.tag { border-left: 4px solid var(--line); margin: .6rem 0; padding-left: .6rem; }
details.tag[open] { border-left-color: var(--accent); }
details.tag > summary { cursor: pointer; padding: .25rem 0; }
.tag-name { font-weight: 700; font-family: ui-monospace, Menlo, Consolas, monospace; }
.facts { display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; margin: .3rem 0; padding: 0; list-style: none; }
.facts li { white-space: nowrap; }
.cmd { display: flex; gap: .4rem; align-items: stretch; margin: .4rem 0; }
.cmd code { flex: 1; display: block; background: #0f1720; color: #f1f5f9; padding: .45rem .6rem; border-radius: 5px; white-space: pre-wrap; overflow-wrap: anywhere; }
button { font: inherit; font-size: .9rem; color: var(--accent); background: var(--bg); border: 1px solid var(--accent); border-radius: 5px; padding: .25rem .6rem; cursor: pointer; }
button:hover { background: #e8f0fb; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 5px; margin: .4rem 0; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .3rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); white-space: nowrap; }
th button { border: none; background: none; padding: 0; color: var(--fg); font-weight: 700; font-size: inherit; }
th button::after { content: " \\2195"; color: var(--muted); }
th[aria-sort=ascending] button::after { content: " \\2191"; color: var(--fg); }
th[aria-sort=descending] button::after { content: " \\2193"; color: var(--fg); }
td.files { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85em; overflow-wrap: anywhere; min-width: 16rem; }
.raw { border: 1px solid var(--line); border-radius: 6px; padding: .4rem .8rem; margin: .5rem 0; }
.raw-name { font-weight: 700; overflow-wrap: anywhere; }
.sha code { overflow-wrap: anywhere; }
.controls { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: .4rem 0; }
select { font: inherit; padding: .25rem .4rem; max-width: 100%; }
.lineage { font-family: ui-monospace, Menlo, Consolas, monospace; }
.note { font-size: .9rem; color: var(--muted); }
#where-note:empty { display: none; }
.empty { padding: 1rem; background: var(--panel); border-radius: 6px; }
footer { margin: 2rem auto; font-size: .85rem; color: var(--muted); }
[hidden] { display: none !important; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  h1 { font-size: 1.3rem; }
  .cmd { flex-direction: column; }
  .facts { gap: 0 .9rem; }
}
`;
