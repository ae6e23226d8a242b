// Activity: jobs per minute by status over the last hour, and run time per engine,
// drawn as plain SVG from the most recent jobs; new events redraw them.

import { events } from '../api.js';
import { STATES, formatDuration, h, replace, s, throttle } from '../dom.js';
import { HOUR_MS, RECENT_LIMIT, quantile, recentJobs } from './stats.js';

// Bottom to top in the stacked bars.
const STACK = ['succeeded', 'failed', 'cancelled', 'running', 'queued'];

export function renderActivity(container) {
  let disposed = false;
  let jobs = new Map();
  const tiles = h('div', { class: 'stats wide' });
  const perMinute = h('div', { class: 'chart-holder' }, h('div', { class: 'loading', text: 'Loading…' }));
  const durations = h('div', { class: 'chart-holder' });
  const note = h('p', { class: 'muted small-print' });
  replace(
    container,
    h(
      'section',
      { class: 'activity-view' },
      h(
        'div',
        { class: 'view-head' },
        h('h1', { text: 'Activity' }),
        h('span', { class: 'muted', text: 'last hour · updates live' }),
      ),
      tiles,
      h('section', { class: 'panel' }, h('h2', { text: 'Jobs per minute, by status' }), legend(), perMinute),
      h('section', { class: 'panel' }, h('h2', { text: 'Run time per engine' }), durations),
      note,
    ),
  );

  const draw = () => {
    if (disposed) return;
    const now = Date.now();
    const all = [...jobs.values()];
    const hour = all.filter((j) => now - new Date(j.createdAt).getTime() <= HOUR_MS);
    const finished = hour.filter((j) => ['succeeded', 'failed', 'cancelled'].includes(j.state));
    const ok = hour.filter((j) => j.state === 'succeeded').length;
    const runTimes = hour
      .filter((j) => j.durationMs !== null)
      .map((j) => j.durationMs)
      .sort((a, b) => a - b);
    replace(
      tiles,
      tile('jobs', String(hour.length)),
      tile('in flight', String(hour.filter((j) => j.state === 'queued' || j.state === 'running').length)),
      tile('succeeded', finished.length ? `${Math.round((ok / finished.length) * 100)} %` : '—'),
      tile('failed', String(hour.filter((j) => j.state === 'failed').length)),
      tile('median run', runTimes.length ? formatDuration(quantile(runTimes, 0.5)) : '—'),
      tile('p90 run', runTimes.length ? formatDuration(quantile(runTimes, 0.9)) : '—'),
    );
    // Drawn at the holder's own width so that text keeps its size.
    const width = Math.max(perMinute.clientWidth || 760, 480);
    replace(perMinute, perMinuteChart(hour, now, width));
    replace(durations, durationChart(hour, width));
    note.textContent = `Computed in the browser from the ${Math.min(all.length, RECENT_LIMIT)} most recent jobs${
      all.length >= RECENT_LIMIT ? ' (older ones in the hour are not counted)' : ''
    }.`;
  };
  const redraw = throttle(draw, 500);

  const unsubscribe = events.onJob((job) => {
    jobs.set(job.id, job);
    redraw();
  });
  recentJobs()
    .then((recent) => {
      // Events that arrived while loading are newer than the page.
      for (const [id, job] of recent) if (!jobs.has(id)) jobs.set(id, job);
      draw();
    })
    .catch((error) =>
      replace(perMinute, h('p', { class: 'error', text: `Could not load jobs: ${error.message}` })),
    );

  window.addEventListener('resize', redraw);
  return () => {
    disposed = true;
    unsubscribe();
    window.removeEventListener('resize', redraw);
  };
}

function tile(label, value) {
  return h(
    'div',
    { class: 'stat' },
    h('span', { class: 'stat-value', text: value }),
    h('span', { class: 'stat-label', text: label }),
  );
}

function legend() {
  return h(
    'ul',
    { class: 'legend' },
    STATES.map((state) =>
      h('li', {}, h('span', { class: `swatch fill-${state}`, 'aria-hidden': 'true' }), state),
    ),
  );
}

/** A round upper bound for an axis: 1, 2, 5, 10, 20, 50 … */
function niceMax(value) {
  if (value <= 2) return Math.max(value, 1);
  if (value <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * p).find((n) => n >= value);
}

const hhmm = (t) => {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

function perMinuteChart(jobs, now, W) {
  const H = 200;
  const m = { left: 40, right: 12, top: 12, bottom: 26 };
  const bins = 60;
  const end = Math.floor(now / 60_000) * 60_000 + 60_000;
  const start = end - bins * 60_000;
  const counts = Array.from({ length: bins }, () => Object.fromEntries(STACK.map((k) => [k, 0])));
  for (const job of jobs) {
    const i = Math.floor((new Date(job.createdAt).getTime() - start) / 60_000);
    if (i >= 0 && i < bins && job.state in counts[i]) counts[i][job.state] += 1;
  }
  const max = niceMax(Math.max(0, ...counts.map((c) => STACK.reduce((n, k) => n + c[k], 0))));
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const bw = plotW / bins;
  const y = (v) => m.top + plotH - (v / max) * plotH;

  const grid = (max % 2 === 0 ? [0, max / 2, max] : [0, max]).map((v) =>
    s(
      'g',
      { class: 'tick' },
      s('line', { x1: m.left, x2: W - m.right, y1: y(v), y2: y(v) }),
      s('text', {
        x: m.left - 6,
        y: y(v) + 4,
        'text-anchor': 'end',
        text: Number.isInteger(v) ? v : v.toFixed(1),
      }),
    ),
  );
  const xLabels = [0, 10, 20, 30, 40, 50].map((i) =>
    s('text', {
      class: 'axis',
      x: m.left + i * bw,
      y: H - 8,
      'text-anchor': 'start',
      text: hhmm(start + i * 60_000),
    }),
  );
  xLabels.push(s('text', { class: 'axis', x: W - m.right, y: H - 8, 'text-anchor': 'end', text: 'now' }));
  const bars = counts.map((c, i) => {
    let acc = 0;
    const total = STACK.reduce((n, k) => n + c[k], 0);
    const parts = STACK.filter((k) => c[k] > 0).map((k) => {
      const y0 = y(acc);
      acc += c[k];
      return s('rect', {
        class: `fill-${k}`,
        x: m.left + i * bw + 1,
        width: Math.max(bw - 2, 1),
        y: y(acc),
        height: y0 - y(acc),
      });
    });
    const label = `${hhmm(start + i * 60_000)}: ${total} job${total === 1 ? '' : 's'}${
      total
        ? ` (${STACK.filter((k) => c[k])
            .map((k) => `${c[k]} ${k}`)
            .join(', ')})`
        : ''
    }`;
    return s(
      'g',
      { class: 'bar' },
      s('title', { text: label }),
      s('rect', { class: 'hit', x: m.left + i * bw, width: bw, y: m.top, height: plotH }),
      parts,
    );
  });
  return s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': 'jobs per minute by status, last hour',
    },
    grid,
    bars,
    xLabels,
  );
}

/** A stable pseudo-random number in [0, 1) from a job id, to spread dots without flicker. */
function jitter(id) {
  let x = 0;
  for (const c of id) x = (x * 31 + c.charCodeAt(0)) >>> 0;
  return (x % 1000) / 1000;
}

function durationChart(jobs, W) {
  const byEngine = new Map();
  for (const job of jobs) {
    if (job.durationMs === null) continue;
    if (!byEngine.has(job.engine)) byEngine.set(job.engine, []);
    byEngine.get(job.engine).push(job);
  }
  if (!byEngine.size) return h('p', { class: 'muted', text: 'No finished jobs in the last hour.' });
  const all = [...byEngine.values()].flat().map((j) => Math.max(j.durationMs, 1));
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = 10 ** Math.max(Math.ceil(Math.log10(Math.max(...all))), Math.log10(lo) + 1);
  const m = { left: 110, right: 250, top: 10, bottom: 28 };
  const row = 38;
  const engines = [...byEngine.keys()].sort();
  const H = m.top + engines.length * row + m.bottom;
  const plotW = W - m.left - m.right;
  const x = (ms) =>
    m.left + ((Math.log10(Math.max(ms, 1)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;

  const ticks = [];
  // Decades, with 2× and 5× between them when the range is short enough to leave room.
  const steps = Math.log10(hi) - Math.log10(lo) <= 2 ? [1, 2, 5] : [1];
  for (let decade = lo; decade <= hi; decade *= 10) {
    for (const step of steps) {
      const t = decade * step;
      if (t > hi) break;
      ticks.push(
        s(
          'g',
          { class: step === 1 ? 'tick' : 'tick minor' },
          s('line', { x1: x(t), x2: x(t), y1: m.top, y2: H - m.bottom }),
          s('text', { x: x(t), y: H - 8, 'text-anchor': 'middle', text: formatDuration(t) }),
        ),
      );
    }
  }
  const rows = engines.map((engine, r) => {
    const list = byEngine.get(engine);
    const sorted = list.map((j) => j.durationMs).sort((a, b) => a - b);
    const cy = m.top + r * row + row / 2;
    const q1 = quantile(sorted, 0.25);
    const med = quantile(sorted, 0.5);
    const q3 = quantile(sorted, 0.75);
    const p90 = quantile(sorted, 0.9);
    return s(
      'g',
      { class: 'engine-row' },
      s('text', { class: 'row-label', x: m.left - 10, y: cy + 4, 'text-anchor': 'end', text: engine }),
      s('rect', { class: 'iqr', x: x(q1), width: Math.max(x(q3) - x(q1), 2), y: cy - 11, height: 22, rx: 3 }),
      list.map((j) =>
        s(
          'circle',
          { class: `dot fill-${j.state}`, cx: x(j.durationMs), cy: cy + (jitter(j.id) - 0.5) * 16, r: 3 },
          s('title', { text: `${j.input.name}: ${formatDuration(j.durationMs)} (${j.state})` }),
        ),
      ),
      s('line', { class: 'median', x1: x(med), x2: x(med), y1: cy - 13, y2: cy + 13 }),
      s('text', {
        class: 'row-stat',
        x: W - m.right + 12,
        y: cy + 4,
        text: `median ${formatDuration(med)} · p90 ${formatDuration(p90)} · n ${sorted.length}`,
      }),
    );
  });
  return s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': 'run time per engine (log scale)',
    },
    ticks,
    rows,
  );
}
