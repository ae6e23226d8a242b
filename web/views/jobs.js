// Jobs: the list, newest first, with filters, search, cursor paging and live updates.

import { api, events } from '../api.js';
import { STATES, badge, elapsedEl, formatBytes, formatDuration, h, hashEl, replace, timeEl } from '../dom.js';

const PAGE_SIZE = 50;
/** "Submitted within" choices, ms. The API has no time filter: the list is newest first, so
 * rows are cut at the first one older than the cutoff and paging stops there. */
const SINCE = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };
const SINCE_LABELS = { '15m': 'last 15 min', '1h': 'last hour', '24h': 'last 24 h', '7d': 'last 7 days' };
// Cursors of the pages before this one, for "newer" (the API only pages towards older jobs).
let pageStack = [];
let stackKey = '';

/** The filters and page of the list, kept in the URL hash (#/jobs?engine=&state=&sha256=&cursor=). */
function readQuery(query) {
  return {
    engine: query.get('engine') || '',
    state: query.get('state') || '',
    sha256: (query.get('sha256') || '').toLowerCase(),
    since: SINCE[query.get('since')] ? query.get('since') : '',
    cursor: query.get('cursor') || '',
    limit: clampLimit(query.get('limit')),
  };
}

function clampLimit(value) {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) && n >= 1 && n <= 500 ? n : PAGE_SIZE;
}

function hrefFor(filters) {
  const q = new URLSearchParams();
  for (const key of ['engine', 'state', 'sha256', 'since', 'cursor'])
    if (filters[key]) q.set(key, filters[key]);
  if (filters.limit && filters.limit !== PAGE_SIZE) q.set('limit', String(filters.limit));
  const s = q.toString();
  return s ? `#/jobs?${s}` : '#/jobs';
}

function matches(job, f) {
  return (
    (!f.engine || job.engine === f.engine) &&
    (!f.state || job.state === f.state) &&
    (!f.sha256 || job.input.sha256 === f.sha256)
  );
}

/** One table row; the whole row opens the job. */
export function jobRow(job) {
  const open = `#/jobs/${encodeURIComponent(job.id)}`;
  return h(
    'tr',
    {
      class: 'job-row',
      dataset: { jobId: job.id, state: job.state },
      onclick: (event) => {
        if (event.target.closest('a, button')) return;
        location.hash = open;
      },
    },
    h('td', {}, badge(job.state)),
    h('td', { class: 'engine' }, job.engine),
    h(
      'td',
      { class: 'file' },
      h('a', { href: open, class: 'file-name', title: job.input.name, text: job.input.name }),
      job.reason ? h('div', { class: 'reason', title: job.reason, text: job.reason }) : null,
      job.purgedAt ? h('div', { class: 'purged', text: 'input and result deleted by retention' }) : null,
    ),
    h('td', { class: 'num' }, formatBytes(job.input.size)),
    h('td', {}, hashEl(job.input.sha256)),
    h('td', {}, timeEl(job.createdAt)),
    h('td', { class: 'col-started' }, timeEl(job.startedAt)),
    h('td', { class: 'col-finished' }, timeEl(job.finishedAt)),
    h('td', { class: 'num' }, job.durationMs === null ? liveDuration(job) : formatDuration(job.durationMs)),
  );
}

function liveDuration(job) {
  if (job.state === 'running' && job.startedAt)
    return h('span', { class: 'muted' }, elapsedEl(job.startedAt));
  if (job.state === 'queued') return h('span', { class: 'muted', text: 'waiting' });
  return h('span', { class: 'muted', text: '—' });
}

const COLUMN_CLASS = { Size: 'num', Duration: 'num', Started: 'col-started', Finished: 'col-finished' };

export function jobTable(rows, emptyMessage) {
  return h(
    'table',
    { class: 'jobs' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Status', 'Engine', 'File', 'Size', 'SHA-256', 'Submitted', 'Started', 'Finished', 'Duration'].map(
          (t) => h('th', { scope: 'col', class: COLUMN_CLASS[t] ?? null, text: t }),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      rows.length
        ? rows
        : h('tr', { class: 'empty-row' }, h('td', { colspan: 9 }, emptyMessage ?? 'No jobs.')),
    ),
  );
}

export function renderJobs(container, query) {
  const filters = readQuery(query);
  const key = `${filters.engine}|${filters.state}|${filters.sha256}|${filters.since}`;
  if (key !== stackKey || !filters.cursor) {
    stackKey = key;
    if (!filters.cursor) pageStack = [];
  }
  let rows = new Map();
  let tbody = null;
  let disposed = false;

  const searchInput = h('input', {
    type: 'search',
    name: 'search',
    class: 'mono',
    placeholder: 'SHA-256 or job id   ( / )',
    'aria-label': 'search by SHA-256 or job id',
    spellcheck: 'false',
    autocomplete: 'off',
  });
  const searchMessage = h('span', { class: 'search-message', role: 'status' });
  const engineSelect = h(
    'select',
    { name: 'engine', 'aria-label': 'engine' },
    h('option', { value: '', text: 'all engines' }),
    filters.engine ? h('option', { value: filters.engine, text: filters.engine }) : null,
  );
  engineSelect.value = filters.engine;
  const stateSelect = h(
    'select',
    { name: 'state', 'aria-label': 'status' },
    h('option', { value: '', text: 'any status' }),
    STATES.map((s) => h('option', { value: s, text: s })),
  );
  stateSelect.value = filters.state;

  const go = (next) => {
    location.hash = hrefFor({ ...filters, cursor: '', ...next });
  };
  engineSelect.addEventListener('change', () => go({ engine: engineSelect.value }));
  stateSelect.addEventListener('change', () => go({ state: stateSelect.value }));
  const sinceSelect = h(
    'select',
    { name: 'since', 'aria-label': 'submitted within' },
    h('option', { value: '', text: 'any time' }),
    Object.entries(SINCE_LABELS).map(([value, text]) => h('option', { value, text })),
  );
  sinceSelect.value = filters.since;
  sinceSelect.addEventListener('change', () => go({ since: sinceSelect.value }));

  const search = async (event) => {
    event.preventDefault();
    const value = searchInput.value.trim();
    searchMessage.textContent = '';
    if (!value) return;
    if (/^[0-9a-f]{64}$/i.test(value)) return go({ sha256: value.toLowerCase() });
    if (/^[0-9a-f]{32}$|^[0-9a-f]{40}$/i.test(value)) {
      searchMessage.textContent = 'Only SHA-256 hashes (64 hex digits) can be searched.';
      return;
    }
    try {
      const job = await api.job(value);
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (error) {
      searchMessage.textContent =
        error.status === 404 || error.status === 400 ? `No job with id “${value}”.` : error.message;
    }
  };

  const chips = [];
  if (filters.sha256) {
    chips.push(
      h(
        'span',
        { class: 'chip' },
        'SHA-256 ',
        h('span', { class: 'mono', title: filters.sha256, text: `${filters.sha256.slice(0, 16)}…` }),
        h('a', { href: hrefFor({ ...filters, sha256: '', cursor: '' }), title: 'clear', text: '×' }),
      ),
    );
  }
  const anyFilter = filters.engine || filters.state || filters.sha256 || filters.since;

  let newerCount = 0;
  const newerBanner = h('a', {
    class: 'newer-banner',
    href: hrefFor({ ...filters, cursor: '' }),
    hidden: true,
  });

  const tableHolder = h(
    'div',
    { class: 'table-holder' },
    h('div', { class: 'loading', text: 'Loading jobs…' }),
  );
  const pager = h('nav', { class: 'pager', 'aria-label': 'pages' });

  replace(
    container,
    h(
      'section',
      { class: 'jobs-view' },
      h(
        'div',
        { class: 'view-head' },
        h('h1', { text: 'Jobs' }),
        h(
          'form',
          { class: 'search', role: 'search', onsubmit: search },
          searchInput,
          h('button', { type: 'submit', text: 'Find' }),
        ),
        h('a', { class: 'button primary', href: '#/submit', text: 'Submit files' }),
      ),
      h(
        'div',
        { class: 'filters' },
        h('label', {}, 'Engine ', engineSelect),
        h('label', {}, 'Status ', stateSelect),
        h('label', {}, 'Submitted ', sinceSelect),
        chips,
        anyFilter
          ? h('a', { class: 'clear', href: hrefFor({ limit: filters.limit }), text: 'clear filters' })
          : null,
        searchMessage,
      ),
      newerBanner,
      tableHolder,
      pager,
    ),
  );

  api
    .engines()
    .then(({ engines }) => {
      if (disposed) return;
      for (const e of engines) {
        if (e.name !== filters.engine) engineSelect.append(h('option', { value: e.name, text: e.name }));
      }
      engineSelect.value = filters.engine;
    })
    .catch(() => {});

  const load = async () => {
    try {
      const page = await api.jobs({
        engine: filters.engine,
        state: filters.state,
        sha256: filters.sha256,
        cursor: filters.cursor,
        limit: filters.limit,
      });
      if (disposed) return;
      const cutoff = filters.since ? Date.now() - SINCE[filters.since] : null;
      const shown = cutoff ? page.jobs.filter((job) => Date.parse(job.createdAt) >= cutoff) : page.jobs;
      const nextCursor = shown.length < page.jobs.length ? null : page.nextCursor;
      rows = new Map(
        shown.map((fetched) => {
          const job = events.fresher(fetched);
          return [job.id, { job, tr: jobRow(job) }];
        }),
      );
      const table = jobTable(
        [...rows.values()].map((r) => r.tr),
        anyFilter
          ? 'No jobs match these filters.'
          : h('span', {}, 'No jobs yet. ', h('a', { href: '#/submit', text: 'Submit a file' }), '.'),
      );
      tbody = table.tBodies[0];
      replace(tableHolder, table);
      renderPager(nextCursor);
    } catch (error) {
      if (!disposed)
        replace(tableHolder, h('p', { class: 'error', text: `Could not load jobs: ${error.message}` }));
    }
  };

  const renderPager = (nextCursor) => {
    const onFirst = !filters.cursor;
    const newer = h('button', {
      type: 'button',
      text: '← Newer',
      disabled: onFirst,
      onclick: () => {
        const previous = pageStack.pop() ?? '';
        location.hash = hrefFor({ ...filters, cursor: previous });
      },
    });
    const older = h('button', {
      type: 'button',
      text: 'Older →',
      disabled: !nextCursor,
      onclick: () => {
        pageStack.push(filters.cursor);
        location.hash = hrefFor({ ...filters, cursor: nextCursor });
      },
    });
    replace(
      pager,
      newer,
      h('span', { class: 'muted', text: onFirst ? 'newest first · live' : `page ${pageStack.length + 1}` }),
      older,
    );
  };

  // Live: rows change state in place; on the first page, new matching jobs appear at the top.
  const unsubscribe = events.onJob((job) => {
    if (!tbody) return;
    const existing = rows.get(job.id);
    if (existing) {
      const tr = jobRow(job);
      tr.classList.add('changed');
      if (!matches(job, filters)) tr.classList.add('outside-filter');
      existing.tr.replaceWith(tr);
      rows.set(job.id, { job, tr });
      return;
    }
    if (!matches(job, filters)) return;
    if (filters.cursor) {
      // On an older page new jobs do not push rows around; a banner offers the newest page instead.
      if (job.state !== 'queued') return;
      newerCount += 1;
      newerBanner.textContent = `${newerCount} new job${newerCount === 1 ? '' : 's'} since this page loaded — show the newest`;
      newerBanner.hidden = false;
      return;
    }
    const tr = jobRow(job);
    tr.classList.add('changed', 'new');
    const empty = tbody.querySelector('.empty-row');
    if (empty) empty.remove();
    // Insert by submission time, newest first (a job can reach a state filter after newer ones).
    const after = [...tbody.rows].find((r) => {
      const shown = rows.get(r.dataset.jobId);
      return shown && shown.job.createdAt < job.createdAt;
    });
    if (after) after.before(tr);
    else tbody.append(tr);
    rows.set(job.id, { job, tr });
    if (rows.size > filters.limit * 2) {
      const last = tbody.rows[tbody.rows.length - 1];
      rows.delete(last.dataset.jobId);
      last.remove();
    }
  });

  // "/" jumps to the search box, as in most analyst tools.
  const onKey = (event) => {
    if (event.key !== '/' || event.target.closest?.('input, select, textarea')) return;
    event.preventDefault();
    searchInput.focus();
  };
  document.addEventListener('keydown', onKey);

  load();
  return () => {
    disposed = true;
    unsubscribe();
    document.removeEventListener('keydown', onKey);
  };
}
