// The inbox: what waits for the person across episodes (open gates, failures), newest first,
// and every episode below it.

import { api } from './api.js';
import { h, fill, link, ago, badge } from './dom.js';

/** The instances of an episode that wait for a person. */
export function waiting(episode) {
  return episode.nodes.filter((n) => n.state === 'awaiting_approval' || n.state === 'failed');
}

/** The path of an instance in the studio. */
export function instancePath(episode, n) {
  const base = `/episodes/${encodeURIComponent(episode)}/nodes/${encodeURIComponent(n.node)}`;
  return n.item ? `${base}/items/${encodeURIComponent(n.item)}` : base;
}

/** What each reason the server gives asks of the person. */
const REASONS = {
  approval: 'to approve',
  pick: 'pick a candidate',
  escalated: 'below the quality bar',
  failed: 'failed',
};

export async function showInbox(main, current = () => true) {
  document.title = 'Inbox · Showrunner';
  fill(main, h('h1', {}, 'Inbox'), h('p.loading', {}, 'Loading episodes…'));
  let waitingFor, episodes;
  try {
    [waitingFor, episodes] = await Promise.all([api('/inbox?limit=50'), api('/episodes?limit=50')]);
  } catch (e) {
    if (current()) fill(main, h('h1', {}, 'Inbox'), h('p.error', { role: 'alert' }, e.message));
    return;
  }
  if (!current()) return;
  episodes = episodes.data;
  const items = waitingFor.data.flatMap((entry) => entry.waiting.map((n) => ({ entry, n })));
  const inbox = items.length
    ? h('ul.inbox', { 'aria-label': 'Waiting for you' }, items.map(({ entry, n }) => h('li', {},
        link(instancePath(entry.episode, n), h('strong', {}, n.item ? `${n.node} · ${n.item}` : n.node)),
        ' ', h('span.badge.reason-' + n.reason, {}, REASONS[n.reason] || n.reason), ' ', h('span.muted', {}, entry.title), ' ',
        n.reason === 'failed' ? null : ago(n.since || entry.created_at),
        n.last_error ? h('div.error', {}, `${n.last_error} (attempt ${n.attempts})`) : null)))
    : h('p.empty', {}, episodes.length ? 'Nothing waits for you.' : 'No episodes yet. ', episodes.length ? null : link('/new', 'Start one.'));
  const more = waitingFor.meta.next_cursor
    ? h('p.muted', {}, 'More is waiting in older episodes than shown here; open them from the list below.') : null;
  fill(main,
    h('h1', {}, 'Inbox'),
    h('section', { 'aria-labelledby': 'waiting' }, h('h2', { id: 'waiting' }, 'Waiting for you'), inbox, more),
    h('section', { 'aria-labelledby': 'all' }, h('h2', { id: 'all' }, 'Episodes'),
      episodes.length ? h('table.episodes', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Episode'), h('th', {}, 'Workflow'), h('th', {}, 'Status'), h('th', {}, 'Created'))),
        h('tbody', {}, episodes.map((e) => h('tr', {},
          h('td', {}, link(`/episodes/${e.id}`, e.title || e.id)), h('td', {}, e.workflow), h('td', {}, badge(e.status)), h('td', {}, ago(e.created_at))))))
        : h('p.empty', {}, 'None yet.')));
}
