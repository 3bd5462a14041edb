// Shared by the job components (imported as "job-management"): times, status icons and the grid column types.
// Status texts, icons and routes are not spelled here: they arrive as props from app/pages/display.py.

const pad = (number) => String(number).padStart(2, "0");

// Local time as YYYY-MM-DD HH:MM:SS: compact, unambiguous in every locale, and it sorts as it reads.
export function formatTime(value) {
  if (!value) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// The icon of a status, named by its text for screen readers (role img + aria-label) and for the mouse (title).
export function statusIcon(look) {
  const icon = document.createElement("span");
  icon.className = `material-icons job-status job-status--${look.css}`;
  icon.setAttribute("role", "img");
  icon.setAttribute("aria-label", look.text);
  icon.title = look.text;
  icon.textContent = look.icon;
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

// AG Grid column types; the Python column definitions name them (`type: "jobStatus"` ...).
export function columnTypes(statuses, routes) {
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
      cellRenderer: (params) => {
        if (!params.data) return "";
        const anchor = link(detailOf(params.data));
        anchor.className = "job-id-link";
        anchor.textContent = String(params.value);
        return anchor;
      },
    },
    jobDetails: {
      cellRenderer: (params) => {
        if (!params.data) return "";
        const anchor = link(detailOf(params.data), `Job details ${params.data.id}`);
        anchor.className = "job-details-link";
        anchor.title = "Job details";
        const icon = document.createElement("span");
        icon.className = "material-icons";
        icon.setAttribute("aria-hidden", "true");
        icon.textContent = "info";
        anchor.appendChild(icon);
        return anchor;
      },
    },
    time: { valueFormatter: (params) => formatTime(params.value) },
    endTime: {
      valueFormatter: (params) => {
        if (!params.data) return "";
        return params.data.status === "in_progress" ? "Still in progress" : formatTime(params.value);
      },
    },
    subtaskStatus: {
      cellRenderer: (params) => (params.data ? statusIcon(lookOf(statuses, params.value)) : ""),
    },
  };
}
