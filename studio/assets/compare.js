// Two episodes side by side, stage by stage (a fork and the episode it came from): each stage's
// state, its value as people read it, and its pictures.

import { api, artifact } from './api.js';
import { h, fill, link, badge } from './dom.js';
import { readable } from './node.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

/** How many items of a fan-out are shown per side. */
const SHOWN_ITEMS = 8;

export async function showCompare(main, left, right, current = () => true) {
  document.title = 'Compare · Showrunner';
  if (!ULID.test(left) || !ULID.test(right)) {
    fill(main, h('p.error', { role: 'alert' }, 'Compare takes two episode ids.'));
    return;
  }
  fill(main, h('h1', {}, 'Compare'), h('p.loading', {}, 'Loading both episodes…'));
  let episodes;
  try {
    episodes = await Promise.all([left, right].map((id) => api(`/episodes/${id}`).then((r) => r.data)));
  } catch (e) {
    if (current()) fill(main, h('h1', {}, 'Compare'), h('p.error', { role: 'alert' }, e.message));
    return;
  }
  const [a] = episodes;
  let workflow;
  try {
    workflow = (await api(`/workflows/${encodeURIComponent(a.workflow)}?version=${encodeURIComponent(a.definition_version)}`)).data;
  } catch (e) {
    if (current()) fill(main, h('p.error', { role: 'alert' }, e.message));
    return;
  }
  const details = await Promise.all(episodes.map((episode) => Promise.all(workflow.nodes
    .filter((def) => def.kind !== 'map')
    .map((def) => api(`/episodes/${episode.id}/nodes/${encodeURIComponent(def.key)}`).then((r) => [def.key, r.data]).catch(() => [def.key, null])))));
  if (!current()) return;
  const values = details.map((pairs) => new Map(pairs));
  const title = (e) => e.input.idea || (e.input.script || '').split('\n').find((l) => l.trim()) || e.id;
  const rows = workflow.nodes.map((def) => h('tr', {},
    h('th', { scope: 'row' }, def.key),
    episodes.map((episode, side) => h('td', {}, cell(episode, def, values[side].get(def.key))))));
  fill(main,
    h('h1', {}, 'Compare'),
    h('table.compare', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Stage'),
        episodes.map((e) => h('th', {}, link(`/episodes/${e.id}`, title(e)), ' ', badge(e.status))))),
      h('tbody', {}, rows)));
}

/** One stage of one episode: its state, and its value or its items' pictures. */
function cell(episode, def, detail) {
  const instances = episode.nodes.filter((n) => n.node === def.key);
  if (def.kind === 'map') {
    const sheet = h('div.side-by-side');
    for (const n of instances.slice(0, SHOWN_ITEMS)) {
      if (!n.artifacts.length) continue;
      artifact(episode.id, n.artifacts[0]).then((a) => {
        if (a.type.startsWith('image/')) sheet.append(h('img', { src: a.url, alt: `${def.key} ${n.item}`, title: n.item }));
      }, () => {});
    }
    return [h('div.counts', {}, `${instances.filter((n) => n.state === 'approved').length} of ${instances.length} approved`), sheet];
  }
  if (!instances.length) return badge('blocked');
  const media = h('div.media');
  if (detail && detail.artifacts.length) {
    artifact(episode.id, detail.artifacts[0]).then((a) => {
      if (a.type.startsWith('video/')) media.append(h('video', { src: a.url, controls: true, preload: 'metadata' }));
      else if (a.type.startsWith('image/')) media.append(h('img', { src: a.url, alt: def.key }));
    }, () => {});
  }
  return [badge(instances[0].state), media, detail && detail.value != null ? readable(detail.value) : null];
}
