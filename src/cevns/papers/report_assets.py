"""Inline style sheet and script of the report pages (no external resources: the page works offline).

``REPORT_CSS`` lays out the page (a sticky table of contents beside the content, figures in cards, link
chips, sortable tables); ``TABLE_SORT_JS`` makes every ``<table class="sortable">`` sortable by a click
(or Enter / Space) on a header cell.
"""

__all__ = ["REPORT_CSS", "TABLE_SORT_JS"]

REPORT_CSS = """:root{--fg:#1d2433;--muted:#5b6475;--line:#d8dde6;--accent:#2456a6;--bg2:#f5f7fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);margin:0;
line-height:1.45;background:#fff}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header.top{background:#1d2c4d;color:#fff;padding:1.1em 2em}header.top h1{margin:0;font-size:1.45em}
header.top p{margin:.3em 0 0;color:#c9d3e6;font-size:.9em}
.layout{display:grid;grid-template-columns:15em minmax(0,1fr);gap:1.5em;max-width:1400px;margin:0 auto;padding:0 1.5em}
nav#toc{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto;padding:1em 0;font-size:.85em}
nav#toc h2{font-size:1em;margin:0 0 .5em;border:0}nav#toc ol{padding-left:1.1em;margin:.2em 0}
nav#toc li{margin:.15em 0}nav#toc>ol>li{margin-bottom:.6em}nav#toc>ol>li>a{font-weight:600}
main{padding:1em 0 3em;min-width:0}
h2{border-bottom:2px solid var(--line);margin-top:1.8em;padding-bottom:.2em;font-size:1.3em}
h3{font-size:1.05em;margin-top:1.6em}
.note{font-size:.9em;color:var(--muted)}
figure{margin:1.2em 0 2em;padding:.8em;border:1px solid var(--line);border-radius:6px;background:#fff}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{font-size:.9em;margin-top:.6em}
.links{margin-top:.4em;font-size:.85em}
.links a,.links span.missing{display:inline-block;padding:.05em .55em;margin:.15em .25em .15em 0;border:1px solid var(--line);
border-radius:3px;background:var(--bg2)}
.links span.missing{color:var(--muted);border-style:dashed}
.tablewrap{overflow-x:auto}
table.sortable{border-collapse:collapse;font-size:.78em;margin:.6em 0;min-width:100%}
table.sortable td,table.sortable th{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
table.sortable th{background:#e9edf3;cursor:pointer;user-select:none;white-space:nowrap;position:sticky;top:0}
table.sortable th::after{content:" \\2195";color:#98a1b3}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2";color:var(--fg)}
table.sortable th[aria-sort=descending]::after{content:" \\25BC";color:var(--fg)}
table.sortable tbody tr:nth-child(even){background:#fafbfc}
td.c-scan{min-width:8em;max-width:14em}td.c-bound{min-width:12em}
td.c-figure,td.c-cl,td.c-low,td.c-high{white-space:nowrap}
details{margin:.4em 0}summary{cursor:pointer}ul.files{columns:2;font-size:.8em}
code{background:var(--bg2);padding:0 .25em;border-radius:3px}
@media (max-width:900px){.layout{grid-template-columns:1fr}nav#toc{position:static;max-height:none}}"""

# Sorts the rows of every table.sortable when a header cell is clicked (or Enter/Space on it): numbers
# numerically and before text, text in natural order (case-insensitive, digit runs by value, else by
# code point), ties keep their order; a second click reverses.
TABLE_SORT_JS = r"""(function () {
  "use strict";
  function key(cell) {
    var t = (cell.getAttribute("data-sort") || cell.textContent).trim();
    var n = Number(t);
    return t !== "" && isFinite(n) ? {num: true, v: n} : {num: false, v: t};
  }
  function natural(a, b) {
    var x = a.toLowerCase().match(/\d+|\D+/g) || [], y = b.toLowerCase().match(/\d+|\D+/g) || [];
    for (var i = 0; i < Math.min(x.length, y.length); i++) {
      var dx = /^\d/.test(x[i]), dy = /^\d/.test(y[i]);
      if (dx && dy && Number(x[i]) !== Number(y[i])) { return Number(x[i]) - Number(y[i]); }
      if (x[i] !== y[i]) { return x[i] < y[i] ? -1 : 1; }
    }
    return x.length - y.length;
  }
  function compare(a, b) {
    if (a.num && b.num) { return a.v - b.v; }
    if (a.num !== b.num) { return a.num ? -1 : 1; }
    return natural(a.v, b.v);
  }
  function sortBy(table, th, col) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var body = table.tBodies[0];
    Array.prototype.map.call(body.rows, function (row, i) { return {row: row, k: key(row.cells[col]), i: i}; })
      .sort(function (a, b) { return dir * compare(a.k, b.k) || a.i - b.i; })
      .forEach(function (item) { body.appendChild(item.row); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.title = "sort by this column";
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
}());"""
