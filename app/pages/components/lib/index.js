// Shared by the job components (imported as "job-management"): times, status icons and the grid column types.
// Status texts, icons and routes are not spelled here: they arrive as props from app/pages/display.py.

const pad = (number) => String(number).padStart(2, "0");

// Local time as YYYY-MM-DD HH:MM:SS: compact, unambiguous in every locale, and it sorts as it reads.
// `compact` (phones): MM-DD HH:MM.
export function formatTime(value, compact = false) {
  if (!value) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const day = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (compact) return `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return `${d.getFullYear()}-${day} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// The browser's time zone as people write it ("CET", or "GMT+5:30" where there is no common abbreviation).
export function zoneName(value) {
  const date = value ? new Date(value) : new Date();
  const part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
    .formatToParts(date)
    .find((p) => p.type === "timeZoneName");
  return part ? part.value : "UTC";
}

// The full UTC time, for tooltips: what the server stored, unambiguous anywhere.
export function utcTime(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

// "5 minutes ago", "in 3 hours": how far a time is from now, in the browser's language.
export function relativeTime(value, now = Date.now()) {
  if (!value) return "";
  const seconds = (new Date(value).getTime() - now) / 1000;
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") return format.format(Math.round(seconds / size), unit);
  }
  return "";
}

// The icon of a status, named by its text for screen readers (role img + aria-label) and for the mouse (title).
export function statusIcon(look) {
  const icon = document.createElement("span");
  icon.className = `material-icons glyph job-status job-status--${look.css}`;
  icon.setAttribute("role", "img");
  icon.setAttribute("aria-label", look.text);
  icon.title = look.text;
  icon.dataset.icon = look.icon; // drawn by CSS (.glyph::before): the cell's text is the status alone
  return icon;
}

function lookOf(statuses, status) {
  return statuses[status] || { text: String(status), icon: "help", css: "failed" };
}

function link(href, label) {
  const anchor = document.createElement("a");
  anchor.href = href;
  if (label) anchor.setAttribute("aria-label", label);
  return anchor;
}

// A cell holding a link to a job. A pushed change to the row (status, progress) keeps the cell as it is while the
// row still shows the same job: drawn again, a link a keyboard user is on would lose the focus to the page.
function linkCell(draw) {
  return class {
    init(params) {
      this.id = params.data ? params.data.id : null;
      this.gui = params.data ? draw(params.data) : document.createTextNode("");
    }
    getGui() {
      return this.gui;
    }
    refresh(params) {
      return Boolean(params.data) && params.data.id === this.id;
    }
  };
}

// AG Grid column types; the Python column definitions name them (`type: "jobStatus"` ...). `compact()` says
// whether times should be short (a phone-sized screen).
export function columnTypes(statuses, routes, compact = () => false) {
  const detailOf = (data) => `${routes.jobs}/${data.id}`;
  return {
    jobStatus: {
      cellRenderer: (params) => {
        if (!params.data) return "";
        const cell = document.createElement("span");
        cell.className = "job-status-cell";
        cell.appendChild(statusIcon(lookOf(statuses, params.value)));
        const percent = params.data.progress && params.data.progress.percent;
        if (params.value === "in_progress" && percent !== null && percent !== undefined) {
          const text = document.createElement("span");
          text.className = "job-status-percent";
          text.textContent = `${Math.floor(percent)}%`;
          cell.appendChild(text);
        }
        return cell;
      },
    },
    jobLink: {
      cellRenderer: linkCell((data) => {
        const anchor = link(detailOf(data));
        anchor.className = "job-id-link";
        anchor.textContent = String(data.id);
        return anchor;
      }),
    },
    jobDetails: {
      cellRenderer: linkCell((data) => {
        const anchor = link(detailOf(data), `Job details ${data.id}`);
        anchor.className = "job-details-link";
        anchor.title = "Job details";
        const icon = document.createElement("span");
        icon.className = "material-icons glyph";
        icon.setAttribute("aria-hidden", "true");
        icon.dataset.icon = "info";
        anchor.appendChild(icon);
        return anchor;
      }),
    },
    time: {
      valueFormatter: (params) => formatTime(params.value, compact()),
      tooltipValueGetter: (params) => utcTime(params.value),
    },
    endTime: {
      valueFormatter: (params) => {
        if (!params.data) return "";
        return params.data.status === "in_progress" ? "Still in progress" : formatTime(params.value, compact());
      },
      tooltipValueGetter: (params) => utcTime(params.value),
    },
    subtaskStatus: {
      cellRenderer: (params) => (params.data ? statusIcon(lookOf(statuses, params.value)) : ""),
    },
  };
}
export { Rows, matches } from "./rows.js";
