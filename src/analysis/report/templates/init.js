// Search, sort and filter the long tables (every table.js-dt) with DataTables; sets window.reportTables.
// The words of DataTables come from the page (#dt-language), so the Chinese page has no English.
const { DataTable } = window.ReportDT;
const words = JSON.parse(document.getElementById("dt-language").textContent);
window.reportTables = {};
for (const table of document.querySelectorAll("table.js-dt")) {
  const filterCols = (table.dataset.filterCols || "").split(",").filter(Boolean).map(Number);
  const options = {
    pageLength: 25,
    lengthMenu: [10, 25, 100, { label: words.all, value: -1 }],
    order: [],  // keep the report's order (largest value first) until the reader sorts
    autoWidth: false,
    language: words,
    layout: { topStart: "pageLength", topEnd: "search", bottomStart: "info", bottomEnd: "paging" },
    initComplete: function () {
      // One <select> per filter column in its header: exact match on the cell's text.
      const api = this.api();
      api.columns(filterCols).every(function () {
        const column = this;
        const select = document.createElement("select");
        select.className = "dt-filter-select";
        select.setAttribute("aria-label", words.filter + " " + column.header().textContent);
        select.add(new Option(words.all, ""));
        const values = new Set();
        column.nodes().each(td => values.add(td.textContent));
        [...values].filter(v => v !== "").sort().forEach(v => select.add(new Option(v, v)));
        select.addEventListener("click", e => e.stopPropagation());  // opening the list does not sort
        select.addEventListener("change", () => {
          const v = select.value;
          column.search(v ? (cell => cell === v) : "").draw();
        });
        column.header().appendChild(document.createElement("br"));
        column.header().appendChild(select);
      });
    },
  };
  window.reportTables[table.id] = new DataTable(table, options);
}

// Printing: every long table shows its first data-print-rows rows (current filter kept), then back.
let saved = null;
function expandForPrint() {
  if (saved) return;
  saved = [];
  for (const dt of Object.values(window.reportTables)) {
    const n = Number(dt.table().node().dataset.printRows || 0);
    saved.push([dt, dt.page.len(), dt.page()]);
    dt.page.len(n > 0 ? n : -1).draw(false);
    dt.page(0).draw(false);
  }
}
function restoreAfterPrint() {
  if (!saved) return;
  for (const [dt, len, page] of saved) { dt.page.len(len).draw(false); dt.page(page).draw(false); }
  saved = null;
}
window.addEventListener("beforeprint", expandForPrint);
window.addEventListener("afterprint", restoreAfterPrint);
window.reportPrint = { expand: expandForPrint, restore: restoreAfterPrint };
document.documentElement.dataset.tablesReady = "1";
