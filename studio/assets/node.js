// A node's panel: for a fan-out without an item chosen, a contact sheet of its items with bulk
// actions; for an instance, its value and artifacts, approve / regenerate with a note / edit /
// pick a candidate / revert, every version with a diff between two, and for the final video a
// player with the shot list beside it.

import { api, artifact, ApiError } from './api.js';
import { h, fill, badge, ago, toast, keepingFocus } from './dom.js';

export class NodePanel {
  constructor(view, node, item) {
    this.view = view;
    this.node = node;
    this.item = item;
    this.signature = null;
    this.shown = null;
    this.el = h('div.node');
    this.ticket = 0;
    this.chosen = new Set();
    this.bulkNote = '';
    this.observers = [];
    this.onKey = (e) => this.key(e);
    document.addEventListener('keydown', this.onKey);
  }

  close() {
    this.closed = true;
    document.removeEventListener('keydown', this.onKey);
    this.unobserve();
  }

  unobserve() {
    for (const o of this.observers) o.disconnect();
    this.observers = [];
  }

  /** Loads an artifact into `box` when it scrolls into view (a big sheet loads what is seen). */
  lazy(box, hash) {
    this.observers.push(lazyThumb(box, this.view.id, hash));
  }

  get base() {
    const b = `/episodes/${this.view.id}/nodes/${encodeURIComponent(this.node)}`;
    return this.item ? `${b}/items/${encodeURIComponent(this.item)}` : b;
  }

  get fanOut() {
    const def = this.view.definition(this.node);
    return def && def.kind === 'map' && !this.item;
  }

  /** Renders again when what the episode says of this node changed. */
  async update() {
    const mine = this.view.instances(this.node).filter((n) => !this.item || n.item === this.item);
    const signature = JSON.stringify(mine);
    if (signature === this.signature) return;
    if (this.fanOut) { this.signature = signature; return this.sheet(mine); }
    if (!mine.length) {
      this.signature = signature;
      fill(this.el, this.heading(null), h('p.empty', {}, 'Nothing here yet: this stage waits for the ones before it.'));
      return;
    }
    // Remembered once drawn: a load that fails is tried again at the next change.
    if (await this.load(this.shown)) this.signature = signature;
  }

  heading(instance) {
    return h('div.node-head', {},
      h('h2', {}, this.item ? [this.node, h('span.muted', {}, ' · ' + this.item)] : this.node),
      instance ? badge(instance.state) : null,
      this.item ? h('button.link', { type: 'button', onclick: () => this.view.go(this.node, null) }, '← all items') : null);
  }

  // ---- a fan-out's contact sheet ----

  sheet(items) {
    // What the person ticked and typed outlives the redraws a running stage causes.
    const chosen = this.chosen;
    for (const id of [...chosen]) if (!items.some((n) => n.item === id)) chosen.delete(id);
    this.unobserve();
    const bar = h('div.bulk', { role: 'toolbar', 'aria-label': 'Selected items' });
    const note = h('input', { type: 'text', placeholder: 'note for the selected', 'aria-label': 'Note for the selected items', maxlength: 2000 });
    note.value = this.bulkNote;
    note.addEventListener('input', () => { this.bulkNote = note.value; });
    const count = h('span.muted', {}, `${chosen.size} selected`);
    const act = async (action) => {
      const targets = items.filter((n) => chosen.has(n.item));
      if (!targets.length) { toast('Select items first (click their boxes).'); return; }
      const done = await Promise.allSettled(targets.map((n) => api(`/episodes/${this.view.id}/nodes/${encodeURIComponent(this.node)}/items/${encodeURIComponent(n.item)}/${action}`,
        { method: 'POST', body: action === 'approve' ? { version: n.current_version } : { version: n.current_version, feedback: note.value || null } })));
      chosen.clear();
      const failed = done.filter((d) => d.status === 'rejected');
      toast(failed.length ? `${failed.length} of ${targets.length} refused: ${failed[0].reason.message}` : `${targets.length} ${action === 'approve' ? 'approved' : 'sent back'}.`);
      this.signature = null;
      this.view.refresh();
    };
    fill(bar, count, h('button.primary', { type: 'button', onclick: () => act('approve') }, 'Approve selected'),
      note, h('button', { type: 'button', onclick: () => act('regenerate') }, 'Regenerate selected'));
    const cards = items.map((n) => {
      const box = h('input', { type: 'checkbox', 'aria-label': 'Select ' + n.item, checked: chosen.has(n.item) });
      box.addEventListener('change', () => {
        if (box.checked) chosen.add(n.item); else chosen.delete(n.item);
        count.textContent = `${chosen.size} selected`;
      });
      const thumb = h('div.thumb');
      if (n.artifacts.length) this.lazy(thumb, n.artifacts[0]);
      return h('li.card.state-' + n.state, {},
        h('button.card-open', { type: 'button', onclick: () => this.view.go(this.node, n.item), 'aria-label': `Open ${n.item}` }, thumb),
        n.score != null ? h('span.score', { title: 'quality score' }, n.score.toFixed(2)) : null,
        h('div.card-foot', {}, box, h('span.card-name', { title: n.item }, n.item), badge(n.state)));
    });
    keepingFocus(this.el, () => fill(this.el, this.heading(null),
      items.length ? [bar, h('ul.sheet', {}, cards)] : h('p.empty', {}, 'No items yet: they appear as the stage before approves its list.')));
  }

  // ---- one instance ----

  /** Draws the instance (at `version`, else its current one); false when it could not. Only
   * the latest load draws: an answer that comes back after a newer one is dropped. */
  async load(version) {
    const ticket = ++this.ticket;
    let detail;
    try {
      detail = (await api(this.base + (version ? `?version=${version}` : ''))).data;
    } catch (e) {
      if (ticket === this.ticket && !this.closed) fill(this.el, this.heading(null), h('p.error', { role: 'alert' }, e.message));
      return false;
    }
    if (ticket !== this.ticket || this.closed) return false;
    this.unobserve();
    this.detail = detail;
    this.shown = version && version !== detail.current_version ? version : null;
    const sections = [
      this.heading(detail),
      detail.last_error ? h('div.failure', { role: 'alert' }, h('strong', {}, 'Failed'),
        detail.attempts ? ` (attempt ${detail.attempts})` : '', ': ', detail.last_error,
        h('button', { type: 'button', onclick: () => this.act('regenerate', { version: detail.current_version, feedback: null }) }, 'Retry')) : null,
      this.actions(detail),
      detail.candidates && detail.candidates.length ? this.candidates(detail) : null,
      this.valueView(detail),
      this.versions(detail),
    ];
    fill(this.el, sections);
    return true;
  }

  actions(d) {
    const v = d.current_version;
    if (!v) return h('p.muted', {}, d.state === 'running' ? 'Running…' : 'No version yet.');
    const note = h('textarea', { id: 'note', rows: 2, maxlength: 2000, placeholder: 'What should change? (optional)' });
    this.noteEl = note;
    const viewing = this.shown ? h('p.notice', {}, `Showing version ${this.shown}; actions act on the current version ${v}.`) : null;
    return h('div.actions-box', {},
      viewing,
      h('div.actions', {},
        h('button.primary', { type: 'button', onclick: () => this.act('approve', { version: v }), title: 'Approve (a)', disabled: d.state === 'approved' }, 'Approve'),
        h('button', { type: 'button', onclick: () => this.act('regenerate', { version: v, feedback: note.value.trim() || null }), title: 'Regenerate (r focuses the note)' }, 'Regenerate'),
        h('button', { type: 'button', onclick: () => this.editor(d), title: 'Edit (e)' }, 'Edit')),
      h('label', { for: 'note' }, 'Note for a regenerate'), note);
  }

  async act(action, body) {
    try {
      await api(`${this.base}/${action}`, { method: 'POST', body });
      if (action === 'approve' || action === 'select') this.view.followFrom({ node: this.node, item: this.item });
      toast({ approve: 'Approved.', regenerate: 'Regenerating…', select: 'Picked.', revert: 'Reverted.' }[action] || 'Done.');
      this.signature = null;
      this.view.refresh();
    } catch (e) {
      toast(e.message);
    }
  }

  key(e) {
    if (e.repeat || e.isComposing || e.metaKey || e.ctrlKey || e.altKey) return;
    if (e.target.closest('input, textarea, select, [contenteditable]') || document.querySelector('dialog[open]')) return;
    const d = this.detail;
    if (!d || this.fanOut) return;
    if (e.key === 'a' && d.current_version && d.state === 'awaiting_approval') { e.preventDefault(); this.act('approve', { version: d.current_version }); }
    if (e.key === 'r' && this.noteEl) { e.preventDefault(); this.noteEl.focus(); }
    if (e.key === 'e' && d.current_version) { e.preventDefault(); this.editor(d); }
  }

  async editor(shown) {
    // An edit starts from the current version, whichever one is on screen.
    let d = shown;
    if (this.shown) {
      try { d = (await api(this.base)).data; } catch (e) { toast(e.message); return; }
    }
    const text = h('textarea.json', { id: 'edit-json', rows: 18, spellcheck: 'false', 'aria-label': 'The value, as JSON' });
    text.value = JSON.stringify(d.value, null, 2);
    const error = h('p.field-error', { role: 'alert', id: 'edit-error' });
    const dialog = h('dialog.editor', { 'aria-labelledby': 'edit-h' },
      h('h2', { id: 'edit-h' }, `Edit ${this.node}${this.item ? ' · ' + this.item : ''} (from version ${d.current_version})`),
      text, error,
      h('div.actions', {},
        h('button.primary', { type: 'button', onclick: async () => {
          let value;
          try { value = JSON.parse(text.value); } catch (err) { error.textContent = 'Not JSON: ' + err.message; return; }
          try {
            await api(`${this.base}/edit`, { method: 'POST', body: { base_version: d.current_version, value } });
            dialog.close();
            toast('Edited: a new version.');
            this.signature = null;
            this.view.refresh();
          } catch (err) {
            const path = err instanceof ApiError ? err.details.path : null;
            error.dataset.path = path || '';
            error.textContent = path ? `${path.replace(/^value\.?/, '') || 'value'}: ${err.message}` : err.message;
            if (path) selectField(text, path);
          }
        } }, 'Save as a new version'),
        h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')));
    const opener = document.activeElement;
    dialog.addEventListener('close', () => {
      dialog.remove();
      // Back where the person was, or to the panel when that control was redrawn meanwhile.
      if (opener && opener.isConnected) opener.focus(); else this.el.querySelector('button')?.focus();
    });
    document.body.append(dialog);
    dialog.showModal();
    text.focus();
  }

  candidates(d) {
    const row = h('div.candidates');
    for (const n of d.candidates) {
      const v = d.versions.find((x) => x.n === n);
      const media = h('div.thumb');
      if (v && v.artifacts.length) this.lazy(media, v.artifacts[0]);
      row.append(h('figure.candidate', {}, media,
        h('figcaption', {}, `Version ${n}`, v && v.score != null ? ` · score ${v.score.toFixed(2)}` : '',
          h('button.primary', { type: 'button', 'aria-label': `Pick version ${n}`, onclick: () => this.act('select', { version: n }) }, 'Pick this one'))));
    }
    return h('section', { 'aria-labelledby': 'cand-h' }, h('h3', { id: 'cand-h' }, 'Candidates'), row);
  }

  valueView(d) {
    const box = h('section.value', { 'aria-label': 'Value' });
    if (d.value == null) return box;
    const media = h('div.media');
    const arts = (this.shown ? (d.versions.find((v) => v.n === this.shown) || {}).artifacts : d.artifacts) || [];
    if (arts.length) this.showMedia(media, arts, d.value);
    box.append(media, readable(d.value));
    return box;
  }

  async showMedia(box, hashes, value) {
    const loaded = await Promise.all(hashes.map((hash) => artifact(this.view.id, hash).catch(() => null)));
    const videos = loaded.filter((a) => a && a.type.startsWith('video/'));
    const tracks = loaded.filter((a) => a && a.type.startsWith('text/vtt'));
    for (const a of loaded) {
      if (!a || !a.type.startsWith('image/')) continue;
      const alt = `${this.node} ${this.item || ''}`.trim();
      box.append(h('button.image', { type: 'button', 'aria-label': `Enlarge ${alt}`, onclick: () => this.lightbox(a.url, alt) },
        h('img', { src: a.url, alt, loading: 'lazy' })));
    }
    for (const a of videos) box.append(await this.player(a, tracks[0], value));
  }

  /** An image large, with what made it: the version's seed, model, attempt, feedback, author
   * and time. */
  lightbox(url, alt) {
    const d = this.detail;
    const n = this.shown || d.current_version;
    const v = d.versions.find((x) => x.n === n) || {};
    const made = generatedBy(d.value) || {};
    const rows = [['Version', `v${n}`], ['Seed', v.seed], ['Model', made.model ? `${made.model} (${made.backend})` : null],
      ['Attempt', v.attempt], ['Feedback', v.feedback], ['Score', v.score != null ? v.score.toFixed(2) : null],
      ['Author', v.author], ['When', v.created_at ? new Date(v.created_at).toLocaleString() : null]];
    const dialog = h('dialog.lightbox', { 'aria-label': alt },
      h('img', { src: url, alt }),
      h('dl', {}, rows.filter(([, value]) => value != null && value !== '').map(([k, value]) => [h('dt', {}, k), h('dd', {}, String(value))])),
      h('div.actions', {}, h('button', { type: 'button', onclick: () => dialog.close() }, 'Close')));
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  /** The video with its shot list (as the video was cut: its own `shots`, else the storyboard
   * for videos made before they kept them): click a shot to seek; the playing one is marked. */
  async player(video, track, value) {
    const el = h('video', { src: video.url, controls: true, preload: 'metadata', id: 'player' });
    if (track) el.append(h('track', { kind: 'subtitles', src: track.url, srclang: 'en', label: 'Subtitles', default: true }));
    if (this.node !== 'final') return el;
    let shots = value && Array.isArray(value.shots) ? value.shots.map((s) => ({ id: s.id, start: s.start_s, text: s.dialogue || '' })) : [];
    if (!shots.length) {
      let board = [];
      try { board = (await api(`/episodes/${this.view.id}/nodes/storyboard`)).data.value || []; } catch { board = []; }
      let t = 0;
      shots = board.map((s) => {
        const shot = { id: s.id, start: t, text: (s.dialogue || []).map((l) => l.line).join(' ') };
        t += s.duration_s || 0;
        return shot;
      });
    }
    const rows = shots.map((s) => {
      const li = h('li', {},
        h('button.link', { type: 'button', onclick: () => { el.currentTime = s.start + 0.01; el.play().catch(() => {}); } }, `${s.start.toFixed(1)} s · ${s.id}`),
        ' ', h('span.muted', {}, s.text.slice(0, 80)),
        ' ', h('button.link', { type: 'button', onclick: () => this.redo(s.id) }, 'redo this shot'));
      li.dataset.start = s.start;
      return li;
    });
    const list = h('ol.shots', { 'aria-label': 'Shots' }, rows);
    el.addEventListener('timeupdate', () => {
      let current = null;
      for (const li of rows) if (Number(li.dataset.start) <= el.currentTime) current = li;
      for (const li of rows) li.classList.toggle('current', li === current);
    });
    return h('div.theatre', {}, el, list);
  }

  async redo(shot) {
    const note = prompt(`What should change in ${shot}? (empty: just redo it)`);
    if (note === null) return;
    const key = this.view.instances('keyframes').find((n) => n.item === shot);
    if (!key || !key.current_version) { toast('That shot has no keyframe yet.'); return; }
    try {
      await api(`/episodes/${this.view.id}/nodes/keyframes/items/${encodeURIComponent(shot)}/regenerate`,
        { method: 'POST', body: { version: key.current_version, feedback: note.trim() || null } });
      toast(`Redoing ${shot}: its keyframe, clip and the final video are made again.`);
      this.view.refresh();
    } catch (e) { toast(e.message); }
  }

  versions(d) {
    const picks = [];
    const diff = h('div.diff');
    const rows = d.versions.slice().reverse().map((v) => {
      const box = h('input', { type: 'checkbox', 'aria-label': `Compare version ${v.n}` });
      box.addEventListener('change', () => {
        if (box.checked) picks.push(v.n); else picks.splice(picks.indexOf(v.n), 1);
        if (picks.length > 2) { const drop = picks.shift(); const other = rows.find((r) => r.dataset.n == drop); if (other) other.querySelector('input').checked = false; }
        if (picks.length === 2) this.compare(diff, picks[0], picks[1]); else { this.compared = (this.compared || 0) + 1; fill(diff); }
      });
      const row = h('tr', { dataset: { n: v.n } },
        h('td', {}, box), h('td', {}, `v${v.n}`, v.n === d.current_version ? h('span.muted', {}, ' (current)') : null),
        h('td', {}, v.author), h('td', {}, ago(v.created_at)), h('td', {}, `seed ${v.seed}`), h('td', {}, `attempt ${v.attempt}`),
        h('td', {}, v.score != null ? `score ${v.score.toFixed(2)}` : ''),
        h('td', {}, v.feedback ? `“${v.feedback}”` : '', (v.remarks || []).map((r) => h('div.remark', {}, '⚠ ' + r))),
        h('td', {}, h('button.link', { type: 'button', onclick: () => this.load(v.n) }, 'view'),
          v.n !== d.current_version ? [' ', h('button.link', { type: 'button', onclick: () => this.act('revert', { version: v.n }) }, 'revert to it')] : null));
      return row;
    });
    return h('section', { 'aria-labelledby': 'ver-h' }, h('h3', { id: 'ver-h' }, `Versions (${d.versions.length})`),
      h('table.versions', {}, h('tbody', {}, rows)), diff);
  }

  async compare(box, a, b) {
    const [x, y] = [Math.min(a, b), Math.max(a, b)];
    const ticket = this.compared = (this.compared || 0) + 1;
    let dx, dy;
    try {
      [dx, dy] = await Promise.all([x, y].map((n) => api(`${this.base}?version=${n}`).then((r) => r.data)));
    } catch (e) {
      if (ticket === this.compared) fill(box, h('p.error', { role: 'alert' }, e.message));
      return;
    }
    if (ticket !== this.compared || !box.isConnected) return;
    const lines = diffLines(JSON.stringify(dx.value, null, 2).split('\n'), JSON.stringify(dy.value, null, 2).split('\n'));
    const images = h('div.side-by-side');
    for (const [n, det] of [[x, dx], [y, dy]]) {
      const v = det.versions.find((q) => q.n === n);
      if (v && v.artifacts.length) {
        const fig = h('figure', {}, h('figcaption', {}, `v${n}`));
        artifact(this.view.id, v.artifacts[0]).then((art) => { if (art.type.startsWith('image/')) fig.prepend(h('img', { src: art.url, alt: `version ${n}` })); });
        images.append(fig);
      }
    }
    fill(box, h('h4', {}, `v${x} → v${y}`), images,
      h('pre.diff-lines', {}, lines.map(([op, text]) => h('span.' + (op === '+' ? 'add' : op === '-' ? 'del' : 'same'), {}, `${op} ${text}\n`))));
  }
}

/** Loads an artifact into `box` when it scrolls into view; the observer, to disconnect. */
function lazyThumb(box, episode, hash) {
  const observer = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    observer.disconnect();
    artifact(episode, hash).then((a) => {
      if (a.type.startsWith('image/')) box.append(h('img', { src: a.url, alt: '' }));
      else if (a.type.startsWith('video/')) {
        const v = h('video', { src: a.url, muted: true, loop: true, preload: 'metadata' });
        v.muted = true;
        box.addEventListener('mouseenter', () => v.play().catch(() => {}));
        box.addEventListener('mouseleave', () => v.pause());
        box.append(v);
      }
    }).catch(() => box.append(h('span.muted', {}, 'unavailable')));
  });
  observer.observe(box);
  return observer;
}

/** The generator a value records (a list's first item's). */
function generatedBy(value) {
  if (Array.isArray(value)) return value.length ? generatedBy(value[0]) : null;
  return value && typeof value === 'object' ? value.generated_by || null : null;
}

/** A value as people read it: lists as cards, objects as labelled fields; bookkeeping left out. */
export function readable(value, depth = 0) {
  if (Array.isArray(value)) {
    if (!value.length) return h('p.muted', {}, '(none)');
    return h(depth ? 'ul.plain' : 'ul.cards', {}, value.map((v) => h('li', {}, readable(v, depth + 1))));
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([k]) => k !== 'generated_by');
    return h('dl', {}, entries.map(([k, v]) => [h('dt', {}, k.replace(/_/g, ' ')), h('dd', {}, readable(v, depth + 1))]));
  }
  return h('span', {}, value === null ? '—' : String(value));
}

/** Selects the line of the field `path` names (`value.characters[1].name`) in a JSON editor. */
function selectField(text, path) {
  const last = String(path).split(/[.[\]]/).filter(Boolean).pop();
  if (!last || /^\d+$/.test(last)) return;
  const at = text.value.indexOf(`"${last}":`);
  if (at < 0) return;
  const end = text.value.indexOf('\n', at);
  text.focus();
  text.setSelectionRange(at, end < 0 ? text.value.length : end);
}

/** The most cells the line diff's table may have; bigger values are shown whole, old then new. */
const DIFF_CELLS = 4_000_000;

/** A line diff (longest common subsequence): ['+'|'-'|' ', line] pairs. */
export function diffLines(a, b) {
  const n = a.length, m = b.length;
  if (n * m > DIFF_CELLS) return [...a.map((l) => ['-', l]), ...b.map((l) => ['+', l])];
  const t = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    t[i][j] = a[i] === b[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([' ', a[i]]); i++; j++; }
    else if (t[i + 1][j] >= t[i][j + 1]) out.push(['-', a[i++]]);
    else out.push(['+', b[j++]]);
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}
