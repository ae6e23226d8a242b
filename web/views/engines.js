// Engines: image and digest, workers and queue, the last hour, and the effective security policy.

import { api, events } from '../api.js';
import { copyable, formatBytes, formatDuration, h, replace, throttle } from '../dom.js';
import { engineStats, recentJobs } from './stats.js';

/**
 * How each known policy key reads. `level(value)`: 'ok' for the hardened setting, 'warn' for a
 * loosening, 'danger' for one that breaks containment (as the service's own audit rates them).
 */
const POLICY = {
  network: {
    label: 'Network',
    group: 'isolation',
    show: (v) => (v === 'none' ? 'none' : `${v} (reaches the network)`),
    level: (v) => (v === 'none' ? 'ok' : v === 'host' ? 'danger' : 'warn'),
  },
  readOnlyRootfs: {
    label: 'Root filesystem',
    group: 'isolation',
    show: (v) => (v ? 'read-only' : 'writable'),
    level: (v) => (v ? 'ok' : 'warn'),
  },
  capabilities: {
    label: 'Capabilities',
    group: 'isolation',
    show: (v) => {
      const drop = v?.drop ?? [];
      const add = v?.add ?? [];
      const dropped = drop.includes('ALL')
        ? 'all dropped'
        : drop.length
          ? `dropped: ${drop.join(', ')}`
          : 'none dropped';
      return add.length ? `${dropped}; added back: ${add.join(', ')}` : dropped;
    },
    level: (v) => ((v?.drop ?? []).includes('ALL') && !(v?.add ?? []).length ? 'ok' : 'warn'),
  },
  noNewPrivileges: {
    label: 'No new privileges',
    group: 'isolation',
    show: (v) => (v ? 'on' : 'off'),
    level: (v) => (v ? 'ok' : 'danger'),
  },
  seccomp: {
    label: 'Seccomp',
    group: 'isolation',
    show: (v) =>
      ({
        menagerie: "Menagerie's (stricter)",
        'docker-default': "Docker's default",
        default: "Docker's default",
        unconfined: 'unconfined: no filter',
      })[v] ?? String(v),
    level: (v) => (v === 'menagerie' ? 'ok' : v === 'unconfined' ? 'danger' : 'warn'),
  },
  apparmor: {
    label: 'AppArmor',
    group: 'isolation',
    show: (v) => (v === 'default' ? 'docker-default' : String(v)),
    level: (v) => (v === 'default' ? 'ok' : v === 'unconfined' ? 'danger' : 'warn'),
  },
  maskedPaths: {
    label: '/proc and /sys',
    group: 'isolation',
    show: (v) => (v ? 'masked' : 'unmasked'),
    level: (v) => (v ? 'ok' : 'danger'),
  },
  privileged: {
    label: 'Privileged',
    group: 'isolation',
    show: (v) => (v ? 'yes: all capabilities and devices' : 'no'),
    level: (v) => (v ? 'danger' : 'ok'),
  },
  hostNamespaces: {
    label: 'Host namespaces',
    group: 'isolation',
    show: (v) => (v?.length ? `shared: ${v.join(', ')}` : 'none shared'),
    level: (v) => (v?.length ? 'danger' : 'ok'),
  },
  user: {
    label: 'User',
    group: 'isolation',
    show: (v) => (/^\d+(:\d+)?$/.test(String(v)) ? `uid ${v}` : String(v)),
    level: (v) => (/^(0|root)(:|$)/.test(String(v)) ? 'warn' : 'ok'),
  },
  runtime: {
    label: 'Runtime',
    group: 'isolation',
    show: (v) => (v === null || v === undefined ? 'runc' : v === 'runsc' ? 'runsc (gVisor)' : String(v)),
  },
  memoryBytes: { label: 'Memory', group: 'limits', show: formatBytes },
  cpus: { label: 'CPUs', group: 'limits', show: (v) => String(v) },
  pidsLimit: { label: 'Processes', group: 'limits', show: (v) => `${v} at most` },
  nofile: { label: 'Open files', group: 'limits', show: (v) => `${v} at most` },
  fsizeBytes: { label: 'Largest file', group: 'limits', show: formatBytes },
  tmpfsBytes: { label: '/tmp (tmpfs)', group: 'limits', show: formatBytes },
  volumeBytes: { label: 'Job volume', group: 'limits', show: formatBytes },
  resultMaxBytes: { label: 'Result cap', group: 'limits', show: formatBytes },
  logMaxBytes: { label: 'Log cap', group: 'limits', show: formatBytes },
  timeoutSeconds: { label: 'Timeout', group: 'limits', show: (v) => formatDuration(v * 1000) },
};

const MARK = { ok: '✓', warn: '!', danger: '✕' };
const LISTS = new Set(['loosenings', 'dangerousLoosenings']);

/** "resultMaxBytes" → "Result max bytes". */
function humanize(key) {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** An unknown policy key, shown generically. */
function genericValue(key, value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number' && /bytes$/i.test(key)) return formatBytes(value);
  if (typeof value === 'number' && /ms$/.test(key)) return formatDuration(value);
  if (Array.isArray(value))
    return value.length
      ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')
      : 'none';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function policyList(policy) {
  const groups = { isolation: [], limits: [], other: [] };
  for (const [key, value] of Object.entries(policy ?? {})) {
    if (LISTS.has(key)) continue;
    const known = POLICY[key];
    const level = known?.level ? known.level(value) : null;
    const item = h(
      'li',
      { class: level ? `level-${level}` : '', dataset: { key } },
      h('span', { class: 'policy-mark', 'aria-hidden': 'true', text: MARK[level] ?? '·' }),
      h('span', { class: 'policy-label', text: known?.label ?? humanize(key) }),
      h('span', { class: 'policy-value', text: known ? known.show(value) : genericValue(key, value) }),
    );
    groups[known?.group ?? 'other'].push(item);
  }
  const loosenings = (policy?.loosenings ?? []).map(String);
  const dangerous = new Set((policy?.dangerousLoosenings ?? []).map(String));
  const group = (title, items) =>
    items.length ? h('div', {}, h('h3', { text: title }), h('ul', { class: 'policy-list' }, items)) : null;
  return h(
    'div',
    { class: 'policy' },
    loosenings.length
      ? h(
          'div',
          { class: `loosenings${dangerous.size ? ' has-danger' : ''}`, role: 'note' },
          h('strong', {
            text:
              `${loosenings.length} loosening${loosenings.length === 1 ? '' : 's'} of the default hardening` +
              (dangerous.size ? `, ${dangerous.size} breaking containment` : ''),
          }),
          h(
            'ul',
            {},
            loosenings.map((l) =>
              h(
                'li',
                { class: dangerous.has(l) ? 'danger' : null },
                h('code', { text: l }),
                dangerous.has(l) ? ' — breaks containment (allowed by the operator)' : null,
              ),
            ),
          ),
        )
      : h('p', { class: 'hardened-note', text: '✓ Default hardening, nothing loosened' }),
    h(
      'div',
      { class: 'policy-groups' },
      group('Isolation', groups.isolation),
      group('Limits', groups.limits),
      group('Other', groups.other),
    ),
  );
}

function stat(label, value, title) {
  return h(
    'div',
    { class: 'stat', title },
    h('span', { class: 'stat-value', text: value }),
    h('span', { class: 'stat-label', text: label }),
  );
}

function engineCard(engine, stats) {
  const idle = Math.max(engine.workers - engine.running, 0);
  const s = stats.get(engine.name);
  return h(
    'article',
    { class: 'engine card', id: `engine-${engine.name}`, dataset: { engine: engine.name } },
    h(
      'header',
      { class: 'engine-head' },
      h('h2', { text: engine.name }),
      engine.updateAvailable
        ? h('span', {
            class: 'badge state-queued',
            title: engine.registryDigest ? `the registry now serves ${engine.registryDigest}` : null,
            text: 'newer image under the tag',
          })
        : null,
      h('span', {
        class: `badge ${engine.available ? 'state-succeeded' : 'state-failed'}`,
        text: engine.available ? 'ready' : 'image missing',
      }),
      engine.description ? h('p', { class: 'muted', text: engine.description }) : null,
    ),
    h(
      'div',
      { class: 'stats' },
      stat('busy / workers', `${engine.running} / ${engine.workers}`, `${idle} idle`),
      stat('queued', String(engine.queued)),
      stat('jobs, last hour', s ? String(s.total) : '0'),
      stat(
        'succeeded',
        s?.successRate == null ? '—' : `${Math.round(s.successRate * 100)} %`,
        'of the jobs finished in the last hour',
      ),
      stat('median run', s?.medianMs == null ? '—' : formatDuration(s.medianMs)),
    ),
    h(
      'dl',
      { class: 'engine-facts' },
      h('dt', { text: 'Image' }),
      h('dd', {}, copyable(engine.image)),
      h('dt', { text: 'Digest' }),
      h(
        'dd',
        {},
        engine.digest
          ? copyable(engine.digest)
          : h('span', { class: 'warn-text', text: 'not present locally' }),
      ),
      h('dt', { text: 'Command' }),
      h('dd', {}, h('code', { text: engine.cmd.join(' ') })),
      h('dt', { text: 'Input' }),
      h(
        'dd',
        {},
        h('code', { text: `${engine.mountpoint.replace(/\/$/, '')}/${engine.inputFileName}` }),
        ` up to ${formatBytes(engine.sizeLimitBytes)}`,
      ),
    ),
    h('h3', { class: 'policy-title', text: 'Security policy' }),
    policyList(engine.policy),
  );
}

/** `focus`: an engine name from #/engines/<name>, scrolled to and highlighted once loaded. */
export function renderEngines(container, focus) {
  let focused = false;
  let disposed = false;
  let jobs = new Map();
  const list = h('div', { class: 'engine-list' }, h('div', { class: 'loading', text: 'Loading engines…' }));
  replace(
    container,
    h(
      'section',
      { class: 'engines-view' },
      h(
        'div',
        { class: 'view-head' },
        h('h1', { text: 'Engines' }),
        h('span', { class: 'muted', text: 'Each job runs in a fresh container with this policy.' }),
      ),
      list,
    ),
  );

  const load = async () => {
    try {
      const [{ engines }, recent] = await Promise.all([api.engines(), recentJobs().catch(() => new Map())]);
      if (disposed) return;
      jobs = recent;
      const stats = engineStats(jobs.values());
      replace(
        list,
        engines.length
          ? engines.map((e) => engineCard(e, stats))
          : h('p', { class: 'muted', text: 'No engines are configured.' }),
      );
      const card = focus && list.querySelector(`[data-engine="${CSS.escape(focus)}"]`);
      if (card) {
        card.classList.add('focused');
        if (!focused) card.scrollIntoView({ block: 'start' });
        focused = true;
      }
    } catch (error) {
      if (!disposed)
        replace(list, h('p', { class: 'error', text: `Could not load engines: ${error.message}` }));
    }
  };
  // Queue and worker figures follow the job events (re-read at most once a second, never on a timer).
  const reload = throttle(load, 1000);
  const unsubscribe = events.onJob(reload);
  load();
  return () => {
    disposed = true;
    unsubscribe();
  };
}
