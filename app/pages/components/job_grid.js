// The JobGrid element (app/pages/components/job_grid.py): AG Grid with the job column types, and, for the job
// lists, the infinite row model fed page by page by the list API and updated in place by pushed rows.
import * as AgGrid from "nicegui-aggrid";
import { Rows, columnTypes } from "job-management";

const FETCH_RETRIES = 5;
const RETRY_DELAY_MS = 1000;
const REFRESH_INTERVAL_MS = 100;
let modulesRegistered = false;

const isLink = (target) => target instanceof Element && target.closest("a[href]") !== null;
const MIN_HEIGHT = 320;
const BOTTOM_GAP = 16;
const NARROW_WIDTHS = { status: 64, id: 60, started_at: 92, actions: 72 }; // with Job at its minimum: 358 px
const NARROW = window.matchMedia("(max-width: 600px)");
const THEME = AgGrid.themeQuartz.withPart(AgGrid.colorSchemeVariable).withParams({ cellHorizontalPaddingScale: 0.7, fontSize: 13 });

export default {
  template: `
    <div class="job-grid-host">
      <button v-if="heldCount" type="button" class="job-grid-new" @click="showNew">
        {{ heldCount === 1 ? "1 new job" : heldCount + " new jobs" }}
      </button>
      <div ref="grid" class="job-grid-body"></div>
      <div v-if="empty" class="job-grid-empty text-muted">
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
    firstPage: Object, // the list's first page, read by the server while it built the page (or null)
  },
  data() {
    return { empty: false, heldCount: 0, currentFilters: { ...(this.filters || {}) } };
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
    this.rows = new Rows();
    this.sort = "-started_at";
    this.unplaced = 0; // new jobs whose place only the server knows, waiting for the reader to come back up
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
        // Tab goes from link to link (Job ID, details) in row order: rows and headers are not stops of their own.
        processRowPostCreate: (params) => params.eRow.setAttribute("tabindex", "-1"),
        getRowId: (params) => String(params.data.id ?? params.data.name),
      };
      if (options.rowModelType === "infinite") {
        options.datasource = this.datasource();
        options.onSortChanged = () => {
          this.forget();
          this.$emit("sort", this.sortKey());
        };
        options.onBodyScroll = () => this.onScroll();
      }
      this.api?.destroy();
      this.api = AgGrid.createGrid(this.$refs.grid, options);
      this.fitWidth();
      this.untab();
      this.api.addEventListener("displayedColumnsChanged", () => this.untab());
    },
    // Neither are headers nor the grid's own "tab guards" Tab stops: with cell focus off, they lead nowhere.
    untab() {
      for (const stop of this.$el.querySelectorAll(".ag-header-row, .ag-tab-guard")) stop.setAttribute("tabindex", "-1");
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
          this.sort = sort;
          if (params.startRow === 0 && this.firstPage && !this.firstPageUsed) {
            this.firstPageUsed = true; // sent with the page itself: the first rows need no request of their own
            this.deliver(params, this.firstPage, new Map());
            return;
          }
          const mirrored = this.rows.slice(params.startRow, params.endRow);
          if (mirrored) {
            // Pages already known (a new job was put at the top): no round trip.
            params.successCallback(mirrored, this.rows.lastRow);
            return;
          }
          this.fetchPage(params, sort, FETCH_RETRIES);
        },
      };
    },
    fetchPage(params, sort, retriesLeft) {
      const limit = params.endRow - params.startRow;
      // Jobs held back at the top (the reader is scrolled down) are on the server's first page already.
      const offset = params.startRow + this.rows.held.length;
      const query = new URLSearchParams({ offset, limit, sort });
      if (this.category) query.set("category", this.category);
      for (const [name, value] of Object.entries(this.currentFilters)) if (value) query.set(name, value);
      // A page fetched while changes were being pushed may be older than those changes: the pushed rows win.
      const request = { pushed: new Map(), shifts: this.rows.shifts };
      this.fetches.add(request);
      fetch(`${this.routes.api_jobs}?${query}`, { credentials: "same-origin" })
        .then((response) => {
          if (response.status === 401) window.location.href = this.routes.login;
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          return response.json();
        })
        .then((page) => {
          this.fetches.delete(request);
          if (request.shifts !== this.rows.shifts) {
            this.fetchPage(params, sort, retriesLeft); // rows were put at the top meanwhile: its indexes moved
            return;
          }
          this.deliver(params, page, request.pushed);
        })
        .catch(() => {
          this.fetches.delete(request);
          // A busy or restarting server: try again shortly rather than leave the rows "Loading..." for good.
          if (retriesLeft > 0) setTimeout(() => this.fetchPage(params, sort, retriesLeft - 1), RETRY_DELAY_MS);
          else params.failCallback();
        });
    },
    // A page of the list for the grid; rows pushed while it was on its way win over their copies in it.
    deliver(params, page, pushed) {
      const limit = params.endRow - params.startRow;
      // A text search counts only so far ahead: then the end is unknown until a page comes back short.
      const ended = page.rows.length < limit;
      const total = page.total - this.rows.held.length;
      const lastRow = page.total_is_exact === false ? (ended ? params.startRow + page.rows.length : -1) : total;
      const rows = page.rows.map((row) => pushed.get(row.id) || row);
      this.rows.received(params.startRow, rows, lastRow);
      params.successCallback(rows, lastRow);
      if (params.startRow === 0) this.empty = total === 0;
    },
    // Pushed rows: loaded ones change in place; a new job goes to the top from the pushed row when the list is
    // newest first (or is held back, with a notice, while the reader is scrolled down, so the rows in view stay
    // put); only a new job whose place is unknown (another sort) makes the grid ask the server again.
    apply(rows) {
      if (!this.api) return;
      for (const request of this.fetches) for (const row of rows) request.pushed.set(row.id, row);
      let unplaced = false;
      for (const row of [...rows].sort((a, b) => a.id - b.id)) {
        const known = this.rows.update(row);
        const node = this.api.getRowNode(String(row.id));
        if (node) {
          // Only the cells whose values changed are drawn again (a link a keyboard user is on keeps the focus), and
          // the status cell, whose progress percent is not part of its value.
          node.updateData(row);
          this.api.refreshCells({ rowNodes: [node], columns: ["status"], force: true });
        }
        if (known || node || row.id <= this.rows.maxId) continue;
        const place = this.rows.placeOf(row, this.sort, this.currentFilters);
        if (place === "top") this.rows.hold(row);
        else if (place === "elsewhere") unplaced = true;
      }
      const atTop = this.atTop();
      if (unplaced && atTop) this.refreshSoon();
      else if (unplaced) this.unplaced += 1; // somewhere in the list: the notice takes the reader there
      if (this.rows.held.length && atTop) this.showHeld();
      this.heldCount = this.rows.held.length + this.unplaced;
    },
    atTop() {
      return this.api.getVerticalPixelRange().top < 8;
    },
    // Put the held-back new jobs at the top; the grid reads the pages from the mirror.
    showHeld() {
      this.heldCount = this.unplaced;
      if (!this.rows.showHeld()) return;
      this.empty = false;
      this.api.refreshInfiniteCache();
    },
    // The "N new jobs" notice: show them and go to the top.
    showNew() {
      const unplaced = this.unplaced > 0;
      this.unplaced = 0;
      this.showHeld();
      if (unplaced) this.refreshSoon();
      this.api.ensureIndexVisible(0, "top");
    },
    onScroll() {
      if (this.heldCount && this.atTop()) this.showNew();
    },
    // A new job whose place only the server knows: the cached pages are fetched again, at most every 100 ms
    // during a burst. Changes to loaded rows are never delayed.
    refreshSoon() {
      if (this.refreshPending) return;
      this.refreshPending = true;
      const wait = Math.max(0, this.lastRefresh + REFRESH_INTERVAL_MS - Date.now());
      setTimeout(() => {
        this.refreshPending = false;
        this.lastRefresh = Date.now();
        this.rows.reset(); // the list changed in ways only the server knows: the mirror is not it any more
        this.api.refreshInfiniteCache();
      }, wait);
    },
    // New filters: drop the cached blocks and fetch again from the top.
    set_filters(filters) {
      this.currentFilters = { ...filters };
      this.empty = false;
      this.forget();
      this.api.purgeInfiniteCache();
    },
    // Changes may have been missed (the server's cross-node relay reconnected): fetch the cached blocks again.
    resync() {
      this.forget();
      this.api.refreshInfiniteCache();
    },
    // The list changes wholesale (sort, filters, a resync): what the mirror holds is no longer the list.
    forget() {
      this.rows.reset();
      this.unplaced = 0;
      this.heldCount = 0;
    },
  },
};
