// DOM and formatting helpers. Everything that comes from a job, a file or an
// engine is untrusted: it only ever reaches the page as text (textContent or an
// attribute value set through the DOM), never as markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an element. `attrs`: `class`, `text` (textContent), `on<event>`
 * (listener), `dataset` (object), any other key → setAttribute (skipped when
 * null/undefined/false). Children: nodes, strings (as text), arrays, or null.
 */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** Same as h() for SVG elements. */
export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (typeof child === 'string' || typeof child === 'number')
      el.append(document.createTextNode(String(child)));
    else el.append(child);
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  let value = Number(bytes);
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits).replace(/\.0+$/, '')} ${UNITS[unit]}`;
}

/** 420 → "420 ms", 3200 → "3.2 s", 65000 → "1 min 5 s". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1).replace(/\.?0+$/, '')} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  if (minutes < 60) return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const pad = (n) => String(n).padStart(2, '0');

/** A time of day ("14:03:27"), with the date in front when it is not today. */
export function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const now = new Date();
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** "3 s ago", "5 min ago". */
export function formatAgo(iso) {
  if (!iso) return '';
  const ms = Date.now() - new Date(iso).getTime();
  if (ms < 5_000) return 'just now';
  return `${formatDuration(Math.max(ms, 0)).replace(/ \d+ s$/, '')} ago`;
}

/** A <time> element: local time as text, full ISO time as tooltip. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  return h('time', { datetime: iso, title: iso, text: formatTime(iso) });
}

/** A state badge. */
export function badge(state) {
  return h('span', { class: `badge state-${state}`, text: state });
}

/** A hash shown short, full on hover, copied on click. */
export function hashEl(hash, length = 12) {
  if (!hash) return h('span', { class: 'muted', text: '—' });
  const short = hash.length > length + 1 ? `${hash.slice(0, length)}…` : hash;
  return h('button', {
    type: 'button',
    class: 'hash mono',
    title: `${hash}\n(click to copy)`,
    dataset: { copy: hash },
    text: short,
    onclick: (event) => {
      event.preventDefault();
      event.stopPropagation();
      copyText(hash, event.currentTarget);
    },
  });
}

/** A full value with a copy button. */
export function copyable(value, className = 'mono') {
  return h(
    'span',
    { class: 'copyable' },
    h('span', { class: className, text: value }),
    h('button', {
      type: 'button',
      class: 'copy',
      title: 'copy',
      'aria-label': 'copy',
      text: 'copy',
      onclick: (event) => copyText(value, event.currentTarget),
    }),
  );
}

/** Copies text to the clipboard and flashes the element that asked. */
export async function copyText(text, el) {
  try {
    await navigator.clipboard.writeText(text);
    flash(el, 'copied');
  } catch {
    flash(el, 'copy failed');
  }
}

function flash(el, message) {
  if (!el) return;
  el.dataset.flash = message;
  el.classList.add('flashed');
  setTimeout(() => el.classList.remove('flashed'), 1200);
}

export const FINAL_STATES = new Set(['succeeded', 'failed', 'cancelled']);
export const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

let ticker = null;

/**
 * An element whose text counts up from `since` ("running for 12 s"), refreshed once a second by
 * one shared local timer (no network) while such elements are on the page.
 */
export function elapsedEl(since, prefix = '') {
  const el = h('span', { class: 'elapsed', dataset: { since, prefix } });
  tick(el);
  if (!ticker) {
    ticker = setInterval(() => {
      const all = document.querySelectorAll('.elapsed[data-since]');
      if (!all.length) {
        clearInterval(ticker);
        ticker = null;
      }
      for (const node of all) tick(node);
    }, 1000);
  }
  return el;
}

function tick(el) {
  const ms = Math.max(Date.now() - new Date(el.dataset.since).getTime(), 0);
  el.textContent = `${el.dataset.prefix}${formatDuration(Math.floor(ms / 1000) * 1000)}`;
}

/** Runs `fn` at most once per `ms`, always after the latest call (a steady stream of calls still gets runs). */
export function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}
