// Editing a series: its title, bible and regular cast in one form, saved with `PUT series/{id}`
// naming the revision the form was opened at. When someone else saved first, the form says so
// and keeps what the person typed, so nothing is lost by the conflict.

import { api } from './api.js';
import { h } from './dom.js';

/** The fields of a regular character the form edits: [key, label, path in the sheet]. */
const CAST_FIELDS = [
  ['name', 'Name', ['name']],
  ['role', 'Role', ['role']],
  ['face', 'Face', ['static_features', 'face']],
  ['body', 'Body', ['static_features', 'body']],
  ['clothing', 'Clothing', ['dynamic_features', 'clothing']],
  ['personality', 'Personality', ['personality']],
];

/** A character as `PUT series/{id}` takes it: the sheet's fields only (no `generated_by`). */
function sheetOf(c) {
  return {
    id: c.id,
    name: c.name || '',
    role: c.role || '',
    static_features: { face: '', body: '', ...(c.static_features || {}) },
    dynamic_features: { clothing: '', props: [], ...(c.dynamic_features || {}) },
    personality: c.personality || '',
    voice: c.voice || null,
    reference_images: c.reference_images || [],
  };
}

function get(obj, path) {
  return path.reduce((o, k) => (o ? o[k] : undefined), obj) || '';
}

function set(obj, path, value) {
  const last = path[path.length - 1];
  path.slice(0, -1).reduce((o, k) => o[k], obj)[last] = value;
}

/** The form that edits `series`; `onSaved(series)` runs with the saved series. */
export function seriesEditForm(series, { onSaved, onCancel }) {
  const bible = series.bible || {};
  const title = h('input', { id: 'e-title', maxlength: 200, required: true, value: series.title });
  const style = h('input', { id: 'e-style', maxlength: 4000, value: bible.visual_style || '' });
  const world = h('textarea', { id: 'e-world', rows: 3 });
  world.value = bible.world || '';
  const rules = h('textarea', { id: 'e-rules', rows: 3, placeholder: 'one rule a line' });
  rules.value = (bible.rules || []).join('\n');
  const rows = h('ol.cast-edit', { 'aria-label': 'Regular cast' });
  // Numbers the rows' fields, never reused in this form (a removed row's ids stay unused).
  let rowIds = 0;
  const addRow = (character) => {
    const sheet = sheetOf(character);
    const n = rowIds++;
    const inputs = CAST_FIELDS.map(([key, label, path]) => {
      const id = `e-c${n}-${key}`;
      const control = key === 'personality' || key === 'face' || key === 'body'
        ? h('textarea', { id, rows: 1, 'data-key': key }) : h('input', { id, 'data-key': key });
      control.value = get(sheet, path);
      return h('div.field', {}, h('label', { for: id }, label), control);
    });
    const remove = h('button', { type: 'button', onclick: () => row.remove() }, 'Remove');
    const name = inputs[0].querySelector('input');
    const relabel = () => remove.setAttribute('aria-label', `Remove ${name.value.trim() || 'this character'}`);
    name.addEventListener('input', relabel);
    relabel();
    const row = h('li', {}, ...inputs, remove);
    row.sheet = sheet;
    rows.append(row);
    return row;
  };
  (series.characters || []).forEach(addRow);
  const error = h('p.error', { role: 'alert' });
  const save = h('button.primary', { type: 'submit' }, 'Save');
  const form = h('form.create.series-edit', { 'aria-label': 'Edit the series' },
    h('h2', {}, 'Edit the series'),
    ...[['e-title', 'Title', title], ['e-style', 'Visual style', style], ['e-world', 'World', world], ['e-rules', 'Rules', rules]]
      .map(([id, label, control]) => h('div.field', {}, h('label', { for: id }, label), control)),
    h('h3', {}, 'Regular cast'), rows,
    h('button', { type: 'button', onclick: () => addRow({}).querySelector('input').focus() }, 'Add a character'),
    error,
    h('div.actions', {}, save, h('button', { type: 'button', onclick: onCancel }, 'Cancel')));
  let revision = series.revision;
  // After a conflict: their revision, and their version of what the form does not show (each
  // regular's props, voice and references, and the regulars they added), so a second save
  // replaces only what was typed here. The names of the regulars added.
  const takeTheirs = async () => {
    let theirs;
    try { theirs = (await api(`/series/${series.id}`)).data; } catch { return []; }
    revision = theirs.revision;
    const shown = new Set();
    for (const row of rows.children) {
      const current = theirs.characters.find((c) => c.id && c.id === row.sheet.id);
      if (current) { row.sheet = sheetOf(current); shown.add(current.id); }
    }
    const added = theirs.characters.filter((c) => !shown.has(c.id) && !(series.characters || []).some((o) => o.id === c.id));
    added.forEach(addRow);
    return added.map((c) => c.name);
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    form.querySelectorAll('.field-error').forEach((el) => el.remove());
    form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
    const characters = [...rows.children].map((row) => {
      const sheet = structuredClone(row.sheet);
      for (const [key, , path] of CAST_FIELDS) set(sheet, path, row.querySelector(`[data-key="${key}"]`).value.trim());
      if (!sheet.id) delete sheet.id;
      return sheet;
    });
    const body = {
      revision,
      title: title.value,
      bible: { visual_style: style.value, world: world.value, rules: rules.value.split('\n').map((l) => l.trim()).filter(Boolean) },
      characters,
    };
    save.disabled = true;
    try {
      onSaved((await api(`/series/${series.id}`, { method: 'PUT', body })).data);
    } catch (err) {
      if (err.code === 'series_conflict') {
        const added = await takeTheirs();
        error.append('Someone else saved this series since you opened it. ',
          h('button', { type: 'button', onclick: () => onCancel() }, 'See their version'),
          ' or save again to replace what you typed over theirs',
          added.length ? ` (their new ${added.length === 1 ? 'regular' : 'regulars'}, ${added.join(', ')}, added below)` : '',
          '; their reference images and props stay.');
      } else {
        const at = err.details && err.details.path && fieldFor(form, err.details.path);
        if (at) {
          at.setAttribute('aria-invalid', 'true');
          at.after(h('p.field-error', { role: 'alert' }, err.message.replace(/^`[^`]+`/, 'This')));
          at.focus();
        } else {
          error.textContent = err.details && err.details.path ? `${err.details.path}: ${err.message}` : err.message;
        }
      }
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

/** The control a server error's path names (`title`, `bible.world`, `characters[1].name`, …). */
function fieldFor(form, path) {
  const plain = { title: 'e-title', 'bible.visual_style': 'e-style', 'bible.world': 'e-world' }[path];
  if (plain) return form.querySelector(`#${plain}`);
  if (path.startsWith('bible.rules')) return form.querySelector('#e-rules');
  const m = /^characters\[(\d+)\]\.(.+)$/.exec(path);
  if (!m) return null;
  const field = CAST_FIELDS.find(([, , p]) => p.join('.') === m[2]);
  const row = form.querySelectorAll('ol.cast-edit > li')[Number(m[1])];
  return row && field ? row.querySelector(`[data-key="${field[0]}"]`) : null;
}
