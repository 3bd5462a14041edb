// Job grids: AG Grid infinite row model fed by GET /api/jobs, updated in place by pushed rows.
window.jobGrids = window.jobGrids || (() => {
  // Local time as YYYY-MM-DD HH:MM:SS: compact, unambiguous in every locale, and it sorts as it reads.
  const pad = (number) => String(number).padStart(2, "0");
  const formatTime = (value) => {
    if (!value) return "";
    const d = new Date(value);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };
  const STATUS = {
    in_progress: { text: "In Progress", icon: "autorenew", css: "job-status job-status--running" },
    completed: { text: "Completed", icon: "check_circle", css: "job-status job-status--completed" },
    failed: { text: "Failed", icon: "cancel", css: "job-status job-status--failed" },
  };
  const FETCH_RETRIES = 5;
  const REFRESH_INTERVAL_MS = 1000;
  const lastRefresh = new Map(); // grid -> time of its last reload for new jobs
  const refreshPending = new Set();
  const RETRY_DELAY_MS = 1000;
  const maxIds = new Map();
  const filters = new Map(); // category -> {status, job, run_by, since, until, q}
  // A page fetched while changes were being pushed may be older than those changes. Pushed rows are kept
  // while any fetch that started before them is in flight, and win over the fetched copy.
  const pushed = new Map(); // job id -> {row, at}
  const fetchesInFlight = new Set(); // start times
  let clock = 0; // orders pushes and fetch starts; Date.now() can repeat within a millisecond

  function newerThanFetch(rows, startedAt) {
    return rows.map((row) => {
      const latest = pushed.get(row.id);
      return latest && latest.at > startedAt ? latest.row : row;
    });
  }

  function forgetPushedBefore() {
    const oldest = fetchesInFlight.size ? Math.min(...fetchesInFlight) : Infinity;
    for (const [id, entry] of pushed) if (entry.at < oldest) pushed.delete(id);
  }

  function statusRenderer(params) {
    if (!params.data) return "";
    const status = STATUS[params.value] || STATUS.failed;
    const icon = document.createElement("span");
    icon.className = `material-icons ${status.css}`;
    icon.setAttribute("role", "img");
    icon.setAttribute("aria-label", status.text);
    icon.title = status.text;
    icon.textContent = status.icon;
    return icon;
  }

  function actionsRenderer(params) {
    if (!params.data) return "";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "job-details-button";
    button.setAttribute("aria-label", "Job details");
    button.title = "Job details";
    const icon = document.createElement("span");
    icon.className = "material-icons";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "info";
    button.appendChild(icon);
    button.addEventListener("click", () => {
      window.location.href = `/settings/maintenance/jobs/${params.data.id}`;
    });
    return button;
  }

  function endFormatter(params) {
    if (!params.data) return "";
    return params.data.status === "in_progress" ? "Still in progress" : formatTime(params.value);
  }

  function datasource(category, emptyLabelId, initialFilters) {
    filters.set(category, initialFilters || {});
    return {
      getRows(params) {
        const sort = params.sortModel.length
          ? (params.sortModel[0].sort === "desc" ? "-" : "") + params.sortModel[0].colId
          : "-started_at";
        const limit = params.endRow - params.startRow;
        const query = new URLSearchParams({ category, offset: params.startRow, limit, sort });
        for (const [name, value] of Object.entries(filters.get(category) || {})) if (value) query.set(name, value);
        const startedAt = ++clock;
        fetchesInFlight.add(startedAt);
        const done = () => {
          fetchesInFlight.delete(startedAt);
          forgetPushedBefore();
        };
        const attempt = (retriesLeft) =>
          fetch(`/api/jobs?${query}`, { credentials: "same-origin" })
            .then((response) => {
              if (response.status === 401) window.location.href = "/login";
              if (!response.ok) throw new Error(`HTTP ${response.status}`);
              return response.json();
            })
            .then((page) => {
              for (const row of page.rows) maxIds.set(category, Math.max(maxIds.get(category) || 0, row.id));
              // A text search counts only so far ahead: then the end is unknown until a page comes back short.
              const ended = page.rows.length < limit;
              const lastRow = page.total_is_exact === false ? (ended ? params.startRow + page.rows.length : -1) : page.total;
              params.successCallback(newerThanFetch(page.rows, startedAt), lastRow);
              const empty = document.querySelector(`.${emptyLabelId}`);
              if (empty) empty.style.display = page.total === 0 ? "" : "none";
              done();
            })
            .catch(() => {
              // A busy or restarting server: try again shortly rather than leave the rows "Loading..." for good.
              if (retriesLeft > 0) setTimeout(() => attempt(retriesLeft - 1), RETRY_DELAY_MS);
              else {
                params.failCallback();
                done();
              }
            });
        attempt(FETCH_RETRIES);
      },
    };
  }

  // Rows already loaded change in place; a job newer than any seen reloads the cached blocks,
  // which keeps the scroll position and the sort.
  function apply(gridElementId, category, rows) {
    const element = getElement(gridElementId);
    const api = element && element.api;
    if (!api) return;
    let newJob = false;
    for (const row of rows) {
      if (fetchesInFlight.size) pushed.set(row.id, { row, at: ++clock });
      const node = api.getRowNode(String(row.id));
      if (node) node.setData(row);
      else if (row.id > (maxIds.get(category) || 0)) newJob = true;
    }
    if (newJob) refreshSoon(api, gridElementId);
  }

  // New jobs reload the cached blocks at once, then at most once a second while they keep coming: during a
  // burst every reload would fetch the same pages again. Changes to loaded rows are never delayed.
  function refreshSoon(api, key) {
    if (refreshPending.has(key)) return;
    refreshPending.add(key);
    const wait = Math.max(0, (lastRefresh.get(key) || 0) + REFRESH_INTERVAL_MS - Date.now());
    setTimeout(() => {
      refreshPending.delete(key);
      lastRefresh.set(key, Date.now());
      api.refreshInfiniteCache();
    }, wait);
  }

  // <time class="local-time" datetime="..."> elements rendered by the server show the browser's local time.
  function localizeTimes(root) {
    for (const element of root.querySelectorAll("time.local-time:not([data-localized])")) {
      element.textContent = formatTime(element.getAttribute("datetime"));
      element.dataset.localized = "1";
    }
  }
  new MutationObserver(() => localizeTimes(document)).observe(document.documentElement, {
    childList: true,
    subtree: true,
  });

  // New filters: drop the cached blocks and fetch again from the top.
  function setFilters(gridElementId, category, values) {
    filters.set(category, values);
    const element = getElement(gridElementId);
    if (element && element.api) element.api.purgeInfiniteCache();
  }

  // Changes may have been missed (the server's cross-node relay reconnected): fetch the cached blocks again.
  function refresh(gridElementId) {
    const element = getElement(gridElementId);
    if (element && element.api) element.api.refreshInfiniteCache();
  }

  return { setFilters, refresh, statusRenderer, actionsRenderer, endFormatter, formatTime, datasource, apply };
})();
