// One episode: its stage rail with every node's state and per-item counts, live over the event
// stream; the selected node's panel; the event log and the chat. Everything shown is read back
// from the server, so a reload (or a restarted server) shows the same state.

import { api, follow, forget } from './api.js';
import { h, fill, link, badge, toast, navigate, keepingFocus } from './dom.js';
import { NodePanel } from './node.js';
import { Chat } from './chat.js';
import { instancePath, waiting } from './inbox.js';

/** How many events the log shows (older ones are dropped from the page, not from the server). */
const LOG_LIMIT = 300;

export class EpisodeView {
  constructor(main, id) {
    this.id = id;
    this.main = main;
    this.selection = { node: null, item: null };
    this.episode = null;
    this.workflow = null;
    this.pending = [];
    this.frame = 0;
    this.refreshing = false;
    this.again = false;
    this.closed = false;
    this.title = h('h1', {}, 'Episode');
    this.status = h('span', {});
    this.rail = h('ol.rail', { 'aria-label': 'Stages' });
    this.panel = h('section.panel', { 'aria-label': 'Selected stage' }, h('p.loading', {}, 'Loading…'));
    this.log = h('ol.log', { 'aria-label': 'Events' });
    this.chat = new Chat(this);
    this.actions = h('div.episode-actions', {},
      h('button', { type: 'button', onclick: () => this.fork() }, 'Fork'),
      h('button.danger', { type: 'button', onclick: () => this.cancel() }, 'Cancel episode'));
    fill(main,
      h('div.episode-head', {}, this.title, this.status, this.actions),
      h('div.episode', {},
        h('nav.rail-wrap', { 'aria-label': 'Workflow' }, this.rail),
        this.panel,
        h('aside.side', {},
          h('section', { 'aria-labelledby': 'chat-h' }, h('h2', { id: 'chat-h' }, 'Chat'), this.chat.el),
          h('section', { 'aria-labelledby': 'log-h' }, h('h2', { id: 'log-h' }, 'Events'), this.log))));
    this.start();
  }

  async start() {
    if (!/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(this.id)) {
      fill(this.panel, h('p.error', { role: 'alert' }, 'That is not an episode id.'));
      return;
    }
    try {
      const episode = (await api(`/episodes/${this.id}`)).data;
      if (this.closed) return;
      // The definition the episode was made with: a variant's gates differ from the default's.
      const definition = `/workflows/${encodeURIComponent(episode.workflow)}?version=${encodeURIComponent(episode.definition_version)}`;
      this.workflow = (await api(definition)).data;
      if (this.closed) return;
      this.show(episode);
      const from = Math.max(1, episode.next_seq - 100);
      this.stream = follow(this.id, from, (e) => this.onEvent(e), (s) => this.onStream(s));
      this.chat.load();
    } catch (e) {
      if (!this.closed) fill(this.panel, h('p.error', { role: 'alert' }, e.message));
    }
  }

  close() {
    this.closed = true;
    if (this.current) this.current.close();
    if (this.stream) this.stream.stop();
    cancelAnimationFrame(this.frame);
    forget(this.id);
  }

  /** After an approve from the page, the next gate that opens is shown; `from` is the
   * instance approved, so a snapshot taken before the approve landed is not read as "nothing
   * else waits". */
  followFrom(from) {
    this.followNext = from;
  }

  onStream(state) {
    const conn = document.getElementById('conn');
    conn.textContent = state === 'live' ? '● live' : state === 'ended' ? 'episode gone' : '○ reconnecting…';
    conn.className = 'conn ' + state;
    // Whatever happened while the stream was away is in the events it replays; the state is
    // read again as well, so a restarted server's answer wins.
    if (state === 'live') this.refresh();
  }

  /** Events are batched per frame: a burst of thousands costs one render and one fetch.
   * Progress reports are logged but change no state, so they alone fetch nothing. */
  onEvent(event) {
    this.pending.push(event);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const events = this.pending;
    this.pending = [];
    const items = events.map((e) => this.logLine(e));
    this.log.prepend(...items.reverse());
    while (this.log.childElementCount > LOG_LIMIT) this.log.lastElementChild.remove();
    this.chat.onEvents(events);
    if (events.some((e) => e.type !== 'NodeProgress')) this.refresh();
  }

  logLine(e) {
    const key = e.key ? (e.key.item ? `${e.key.node} · ${e.key.item}` : e.key.node) : '';
    const text = e.type === 'Message' ? `${e.author}: ${e.text}` : e.type.replace(/([a-z])([A-Z])/g, '$1 $2');
    const target = e.key ? link(instancePath(this.id, e.key), key) : null;
    return h('li', { dataset: { seq: e.seq } }, h('span.seq', {}, '#' + e.seq), ' ', text, target ? [' ', target] : null,
      e.version ? h('span.muted', {}, ` v${e.version}`) : null, e.error ? h('div.error', {}, e.error) : null);
  }

  /** Reads the episode again (one request at a time; one more if events came meanwhile). */
  async refresh() {
    if (this.closed) return;
    if (this.refreshing) { this.again = true; return; }
    this.refreshing = true;
    try {
      const episode = (await api(`/episodes/${this.id}`)).data;
      if (!this.closed) this.show(episode);
    } catch (e) {
      if (e.status === 404) fill(this.panel, h('p.error', { role: 'alert' }, 'This episode no longer exists.'));
    } finally {
      this.refreshing = false;
      if (this.again) { this.again = false; this.refresh(); }
    }
  }

  show(episode) {
    this.episode = episode;
    const input = episode.input || {};
    const title = input.idea || (input.script || '').split('\n').find((l) => l.trim()) || episode.id;
    document.title = `${title.slice(0, 40)} · Showrunner`;
    fill(this.title, title.length > 90 ? title.slice(0, 90) + '…' : title);
    fill(this.status, badge(episode.status), ' ', h('span.muted', {}, episode.workflow),
      episode.forked_from ? [' · forked from ', link(`/episodes/${episode.forked_from}`, 'its parent'), ' · ',
        link(`/compare/${episode.forked_from}/${episode.id}`, 'compare side by side')] : null);
    const from = this.followNext;
    const landed = from && !episode.nodes.some((n) => n.node === from.node && (n.item || null) === from.item
      && n.state === 'awaiting_approval');
    if (landed) {
      // After an approve, the next gate that opens is shown (until the person goes elsewhere).
      const next = waiting(episode)[0];
      if (next) { this.followNext = null; this.go(next.node, next.item || null); return; }
      if (episode.status === 'completed') { this.followNext = null; this.go('final', null); return; }
    }
    this.ensureSelection();
    this.renderRail();
    this.renderPanel();
  }

  /** With no node in the path, the panel opens on what waits (else the final video, else the
   * first stage). */
  ensureSelection() {
    if (this.selection.node || !this.episode) return;
    const first = waiting(this.episode)[0] || (this.episode.status === 'completed' ? { node: 'final' } : this.episode.nodes[0]);
    if (first) this.selection = { node: first.node, item: first.item || null };
  }

  /** The instances of node `key`. */
  instances(key) {
    return this.episode ? this.episode.nodes.filter((n) => n.node === key) : [];
  }

  definition(key) {
    return this.workflow.nodes.find((n) => n.key === key);
  }

  renderRail() {
    const items = this.workflow.nodes.map((def) => {
      const all = this.instances(def.key);
      const selected = this.selection.node === def.key;
      let summary;
      if (def.kind === 'map') {
        const count = (s) => all.filter((n) => n.state === s).length;
        const parts = [`${count('approved')} of ${all.length} approved`];
        for (const [s, word] of [['awaiting_approval', 'to review'], ['running', 'running'], ['stale', 'stale'], ['failed', 'failed']]) {
          if (count(s)) parts.push(`${count(s)} ${word}`);
        }
        summary = h('span.counts', {}, all.length ? parts.join(' · ') : 'not started');
      } else {
        summary = all[0] ? badge(all[0].state) : badge('blocked');
      }
      const state = def.kind === 'map' ? railState(all) : (all[0] ? all[0].state : 'blocked');
      return h('li.stage.state-' + state, { 'aria-current': selected ? 'step' : null },
        link(`/episodes/${this.id}/nodes/${encodeURIComponent(def.key)}`, h('span.stage-name', {}, def.key)),
        h('div', {}, summary),
        def.gate && def.gate.kind !== 'auto' ? h('small.muted', {}, def.gate.kind + ' gate') : null);
    });
    keepingFocus(this.rail, () => fill(this.rail, items));
  }

  select(selection) {
    const moved = selection.node !== this.selection.node || selection.item !== this.selection.item;
    if (moved && !this.going) this.followNext = null;
    this.going = false;
    this.selection = selection;
    if (this.episode) {
      this.ensureSelection();
      this.renderRail();
      this.renderPanel(true);
    }
  }

  renderPanel(moved = false) {
    const { node, item } = this.selection;
    if (!node || !this.workflow || this.closed) return;
    const same = this.current && this.current.node === node && this.current.item === item;
    if (same && !moved) { this.current.update(); return; }
    if (same) return;
    if (this.current) this.current.close();
    this.current = new NodePanel(this, node, item);
    fill(this.panel, this.current.el);
    this.current.update();
  }

  go(node, item) {
    this.going = true;
    const base = `/episodes/${this.id}/nodes/${encodeURIComponent(node)}`;
    navigate(item ? `${base}/items/${encodeURIComponent(item)}` : base);
  }

  async cancel() {
    if (!confirm('Cancel this episode? Its work so far stays readable.')) return;
    try {
      await api(`/episodes/${this.id}/cancel`, { method: 'POST' });
      toast('Episode cancelled.');
      this.refresh();
    } catch (e) { toast(e.message); }
  }

  async fork() {
    try {
      const forked = (await api(`/episodes/${this.id}/fork`, { method: 'POST' })).data;
      navigate(`/episodes/${forked.id}`);
    } catch (e) { toast(e.message); }
  }
}

/** The state a map node's rail entry shows: the most pressing of its items'. */
function railState(all) {
  for (const s of ['failed', 'awaiting_approval', 'running', 'stale', 'ready', 'waiting_to_retry']) {
    if (all.some((n) => n.state === s)) return s;
  }
  return all.length && all.every((n) => n.state === 'approved') ? 'approved' : 'blocked';
}
