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

export async function showInbox(main, current = () => true) {
  document.title = 'Inbox · Showrunner';
  fill(main, h('h1', {}, 'Inbox'), h('p.loading', {}, 'Loading episodes…'));
  let page;
  try {
    page = await api('/episodes?limit=50');
  } catch (e) {
    if (current()) fill(main, h('h1', {}, 'Inbox'), h('p.error', { role: 'alert' }, e.message));
    return;
  }
  const episodes = page.data;
  const open = episodes.filter((e) => e.status === 'active' || e.status === 'paused' || e.status === 'failed');
  const details = await Promise.all(open.slice(0, 30).map((e) => api(`/episodes/${encodeURIComponent(e.id)}`).then((r) => r.data).catch(() => null)));
  if (!current()) return;
  const items = [];
  details.forEach((episode, i) => {
    if (!episode) return;
    for (const n of waiting(episode)) items.push({ episode: open[i], n });
  });
  const inbox = items.length
    ? h('ul.inbox', { 'aria-label': 'Waiting for you' }, items.map(({ episode, n }) => h('li', {},
        link(instancePath(episode.id, n), h('strong', {}, n.item ? `${n.node} · ${n.item}` : n.node)),
        ' ', badge(n.state), ' ', h('span.muted', {}, episode.title), ' ', ago(episode.created_at),
        n.last_error ? h('div.error', {}, n.last_error) : null)))
    : h('p.empty', {}, episodes.length ? 'Nothing waits for you.' : 'No episodes yet. ', episodes.length ? null : link('/new', 'Start one.'));
  fill(main,
    h('h1', {}, 'Inbox'),
    h('section', { 'aria-labelledby': 'waiting' }, h('h2', { id: 'waiting' }, 'Waiting for you'), inbox),
    h('section', { 'aria-labelledby': 'all' }, h('h2', { id: 'all' }, 'Episodes'),
      episodes.length ? h('table.episodes', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Episode'), h('th', {}, 'Workflow'), h('th', {}, 'Status'), h('th', {}, 'Created'))),
        h('tbody', {}, episodes.map((e) => h('tr', {},
          h('td', {}, link(`/episodes/${e.id}`, e.title || e.id)), h('td', {}, e.workflow), h('td', {}, badge(e.status)), h('td', {}, ago(e.created_at))))))
        : h('p.empty', {}, 'None yet.')));
}
