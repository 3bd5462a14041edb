// The JobGrid element (app/pages/components/job_grid.py): AG Grid with the job column types, and, for the job
// lists, the infinite row model fed page by page by the list API and updated in place by pushed rows.
import * as AgGrid from "nicegui-aggrid";
import { columnTypes } from "job-management";

const FETCH_RETRIES = 5;
const RETRY_DELAY_MS = 1000;
const REFRESH_INTERVAL_MS = 1000;
let modulesRegistered = false;

const isLink = (target) => target instanceof Element && target.closest("a[href]") !== null;
const MIN_HEIGHT = 320;
const BOTTOM_GAP = 16;
const NARROW_WIDTHS = { status: 64, id: 60, started_at: 96, actions: 62 };
const NARROW = window.matchMedia("(max-width: 600px)");
const THEME = AgGrid.themeQuartz.withPart(AgGrid.colorSchemeVariable).withParams({ cellHorizontalPaddingScale: 0.7, fontSize: 13 });

export default {
  template: `
    <div class="job-grid-host">
      <div ref="grid" class="job-grid-body"></div>
      <div v-if="empty" class="job-grid-empty text-grey-7">
        <div class="text-subtitle1">{{ filtered ? emptyFilteredText : emptyText }}</div>
        <button v-if="filtered" type="button" class="job-grid-clear" @click="$emit('clear_filters')">Clear filters</button>
      </div>
    </div>`,
  props: {
    options: Object,
    modules: Array,
    category: String,
    filters: Object,
    statuses: Object,
    routes: Object,
    emptyText: String,
    emptyFilteredText: String,
    narrowHidden: Array, // columns hidden on a phone-sized screen
    fillViewport: Boolean, // grow to the bottom of the window, so the page itself never scrolls
  },
  data() {
    return { empty: false, currentFilters: { ...(this.filters || {}) } };
  },
  computed: {
    filtered() {
      return Object.values(this.currentFilters).some((value) => value);
    },
  },
  mounted() {
    if (!modulesRegistered) {
      AgGrid.ModuleRegistry.registerModules([AgGrid.AllCommunityModule]);
      modulesRegistered = true;
    }
    this.maxId = 0; // the newest job seen: a pushed row newer than it is a new job, not yet in the cache
    this.fetches = new Set(); // page fetches in flight, each with the rows pushed since it started
    this.refreshPending = false;
    this.lastRefresh = 0;
    this.create();
    const updateTheme = () =>
      this.$el.setAttribute("data-ag-theme-mode", document.body.classList.contains("body--dark") ? "dark" : "light");
    this.themeObserver = new MutationObserver(updateTheme);
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["class"] });
    updateTheme();
    this.onWidth = () => this.fitWidth();
    NARROW.addEventListener("change", this.onWidth);
    if (this.fillViewport) {
      this.resizer = new ResizeObserver(() => this.fillHeight());
      this.resizer.observe(document.body);
      this.resizer.observe(this.$el);
      window.addEventListener("resize", this.fillHeight);
    }
  },
  unmounted() {
    this.api?.destroy();
    this.themeObserver.disconnect();
    NARROW.removeEventListener("change", this.onWidth);
    this.resizer?.disconnect();
    window.removeEventListener("resize", this.fillHeight);
  },
  methods: {
    create() {
      const options = {
        ...this.options,
        theme: THEME,
        columnTypes: columnTypes(this.statuses, this.routes, () => this.narrow),
        // Keys on a link in a cell belong to the link (Enter opens it, Tab moves on), not to the grid's navigation.
        defaultColDef: { ...this.options.defaultColDef, suppressKeyboardEvent: (params) => isLink(params.event.target) },
        getRowId: (params) => String(params.data.id ?? params.data.name),
      };
      if (options.rowModelType === "infinite") {
        options.datasource = this.datasource();
        options.onSortChanged = () => this.$emit("sort", this.sortKey());
      }
      this.api?.destroy();
      this.api = AgGrid.createGrid(this.$refs.grid, options);
      this.fitWidth();
    },
    // One scrollbar: the grid ends at the bottom of the window and scrolls its rows itself.
    fillHeight() {
      const top = this.$el.getBoundingClientRect().top + window.scrollY;
      if (!this.$el.offsetParent) return; // on a hidden tab
      const height = `${Math.max(MIN_HEIGHT, window.innerHeight - top - BOTTOM_GAP)}px`;
      if (this.$el.style.height !== height) this.$el.style.height = height;
    },
    // On a phone the less important columns step aside, so the status, id, job, start and details link fit.
    fitWidth() {
      if (!this.narrowHidden?.length) return;
      this.wideWidths ??= Object.fromEntries(this.api.getColumnState().map((column) => [column.colId, column.width]));
      this.narrow = NARROW.matches;
      this.api.setColumnsVisible(this.narrowHidden, !this.narrow);
      const widths = this.narrow ? NARROW_WIDTHS : this.wideWidths;
      this.api.applyColumnState({
        state: Object.entries(widths || {})
          .filter(([colId]) => colId in NARROW_WIDTHS)
          .map(([colId, width]) => ({ colId, width })),
      });
      this.api.refreshCells({ force: true });
    },
    sortKey() {
      const sorted = this.api.getColumnState().find((column) => column.sort);
      return sorted ? (sorted.sort === "desc" ? "-" : "") + sorted.colId : "";
    },
    // NiceGUI calls this after the element's props changed on the server (e.g. new row data of a subtask grid).
    update_grid() {
      if (this.options.rowModelType === "infinite") return; // its rows come from the datasource
      this.api.setGridOption("rowData", this.options.rowData);
    },
    run_grid_method(name, ...args) {
      return this.api[name](...args);
    },
    datasource() {
      return {
        getRows: (params) => {
          const sort = params.sortModel.length
            ? (params.sortModel[0].sort === "desc" ? "-" : "") + params.sortModel[0].colId
            : "-started_at";
          const limit = params.endRow - params.startRow;
          const query = new URLSearchParams({ offset: params.startRow, limit, sort });
          if (this.category) query.set("category", this.category);
          for (const [name, value] of Object.entries(this.currentFilters)) if (value) query.set(name, value);
          // A page fetched while changes were being pushed may be older than those changes: the pushed rows win.
          const request = { pushed: new Map() };
          this.fetches.add(request);
          const attempt = (retriesLeft) =>
            fetch(`${this.routes.api_jobs}?${query}`, { credentials: "same-origin" })
              .then((response) => {
                if (response.status === 401) window.location.href = this.routes.login;
                if (!response.ok) throw new Error(`HTTP ${response.status}`);
                return response.json();
              })
              .then((page) => {
                for (const row of page.rows) this.maxId = Math.max(this.maxId, row.id);
                // A text search counts only so far ahead: then the end is unknown until a page comes back short.
                const ended = page.rows.length < limit;
                const lastRow =
                  page.total_is_exact === false ? (ended ? params.startRow + page.rows.length : -1) : page.total;
                this.fetches.delete(request);
                params.successCallback(
                  page.rows.map((row) => request.pushed.get(row.id) || row),
                  lastRow,
                );
                if (params.startRow === 0) this.empty = page.total === 0;
              })
              .catch(() => {
                // A busy or restarting server: try again shortly rather than leave the rows "Loading..." for good.
                if (retriesLeft > 0) setTimeout(() => attempt(retriesLeft - 1), RETRY_DELAY_MS);
                else {
                  this.fetches.delete(request);
                  params.failCallback();
                }
              });
          attempt(FETCH_RETRIES);
        },
      };
    },
    // Pushed rows: loaded ones change in place; a job newer than any seen reloads the cached blocks,
    // which keeps the scroll position and the sort.
    apply(rows) {
      if (!this.api) return;
      for (const request of this.fetches) for (const row of rows) request.pushed.set(row.id, row);
      let newJob = false;
      for (const row of rows) {
        const node = this.api.getRowNode(String(row.id));
        if (node) node.setData(row);
        else if (row.id > this.maxId) newJob = true;
      }
      if (newJob) this.refreshSoon();
    },
    // New jobs reload the cached blocks at once, then at most once a second while they keep coming: during a
    // burst every reload would fetch the same pages again. Changes to loaded rows are never delayed.
    refreshSoon() {
      if (this.refreshPending) return;
      this.refreshPending = true;
      const wait = Math.max(0, this.lastRefresh + REFRESH_INTERVAL_MS - Date.now());
      setTimeout(() => {
        this.refreshPending = false;
        this.lastRefresh = Date.now();
        this.api.refreshInfiniteCache();
      }, wait);
    },
    // New filters: drop the cached blocks and fetch again from the top.
    set_filters(filters) {
      this.currentFilters = { ...filters };
      this.empty = false;
      this.api.purgeInfiniteCache();
    },
    // Changes may have been missed (the server's cross-node relay reconnected): fetch the cached blocks again.
    resync() {
      this.api.refreshInfiniteCache();
    },
  },
};
