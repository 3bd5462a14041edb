// What a job list knows of its rows, so a pushed new job can be placed without asking the server again.
//
// `Rows` mirrors the first rows of the list as the server sent them (a contiguous prefix, index 0 onwards) and
// the new jobs held back while the reader is scrolled down. A new job that belongs at the top (the list is newest
// first and the job matches the filters) is put there from the pushed row; the grid then reads its cached pages
// from this mirror instead of the network.

const MAX_MIRRORED = 2000; // as many rows as AG Grid keeps cached (20 pages of 100)
const NEWEST_FIRST = new Set(["-started_at", "-id"]);

export class Rows {
  constructor() {
    // The newest job the server has sent: a pushed row newer than it, not placed yet, is a new job (the server's
    // pages hold every older one). Kept across resets.
    this.maxId = 0;
    this.reset();
  }

  reset() {
    this.ids = []; // ids of rows 0..n-1, as the grid shows them
    this.byId = new Map();
    this.held = []; // new jobs that belong at the top, not shown while the reader is scrolled down
    this.lastRow = null; // the grid's row count (-1: unknown, a text search counts only so far)
    // Counts changes of row indexes (rows put at the top, a reset): a page fetched before one is stale.
    this.shifts = (this.shifts || 0) + 1;
  }

  // A page the server sent for grid rows [start, start + rows.length).
  received(start, rows, lastRow) {
    for (const row of rows) this.maxId = Math.max(this.maxId, row.id);
    this.lastRow = lastRow;
    if (start > this.ids.length) return; // not contiguous with what we mirror: not kept
    for (const id of this.ids.splice(start)) this.byId.delete(id);
    for (const row of rows.slice(0, Math.max(0, MAX_MIRRORED - start))) {
      this.ids.push(row.id);
      this.byId.set(row.id, row);
    }
  }

  // Rows [start, end) if all are mirrored (the list ends inside when lastRow says so), else null.
  slice(start, end) {
    const stop = this.lastRow !== null && this.lastRow >= 0 ? Math.min(end, this.lastRow) : end;
    if (stop > this.ids.length || start > stop) return null;
    return this.ids.slice(start, stop).map((id) => this.byId.get(id));
  }

  // A pushed change: true when the row is one we know (mirrored or held back).
  update(row) {
    if (this.byId.has(row.id)) {
      this.byId.set(row.id, row);
      return true;
    }
    const held = this.held.findIndex((known) => known.id === row.id);
    if (held >= 0) this.held[held] = row;
    return held >= 0;
  }

  // Where a new job goes: "top" (newest first, matches the filters, newer than the first row), "elsewhere" (it
  // matches but its place is unknown: ask the server), or "none" (the filters leave it out).
  placeOf(row, sort, filters) {
    if (!matches(row, filters)) return "none";
    if (!NEWEST_FIRST.has(sort)) return "elsewhere";
    const first = this.byId.get(this.ids[0]);
    if (first && (sort === "-id" ? row.id < first.id : row.started_at < first.started_at)) return "elsewhere";
    return "top";
  }

  hold(row) {
    if (!this.held.some((known) => known.id === row.id)) this.held.push(row);
  }

  // Show the held-back rows at the top (newest first); returns how many.
  showHeld() {
    const rows = this.held.sort((a, b) => b.id - a.id);
    this.held = [];
    this.ids.unshift(...rows.map((row) => row.id));
    for (const row of rows) this.byId.set(row.id, row);
    for (const id of this.ids.splice(MAX_MIRRORED)) this.byId.delete(id);
    if (this.lastRow !== null && this.lastRow >= 0) this.lastRow += rows.length;
    if (rows.length) this.shifts += 1;
    return rows.length;
  }
}

// Whether a job row passes the list's filters, decided as the server does (app/storage/listing.py).
export function matches(row, filters) {
  const { status, job, run_by: runBy, since, until, q } = filters;
  if (status && row.status !== status) return false;
  if (job && row.job !== job) return false;
  if (runBy && row.run_by !== runBy) return false;
  const started = Date.parse(row.started_at);
  if (since && started < boundary(since, false)) return false;
  if (until && started >= boundary(until, true)) return false;
  const text = (q || "").trim();
  if (text) {
    const isId = /^[0-9]{1,18}$/.test(text) && Number(text) === row.id;
    if (!isId && !String(row.description).toLowerCase().includes(text.toLowerCase())) return false;
  }
  return true;
}

// A filter's date or date-time as the server reads it: UTC unless it names an offset; a bare `until` date
// includes that whole day.
function boundary(value, endOfDay) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return Date.parse(`${value}T00:00:00Z`) + (endOfDay ? 86400000 : 0);
  const withZone = /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
  return Date.parse(withZone);
}
