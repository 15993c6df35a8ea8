// A new episode: from an idea or a Fountain screenplay (typed or uploaded), with its settings,
// optionally in a series. The server's validation errors appear at the field they name.

import { api, ApiError } from './api.js';
import { h, fill, navigate } from './dom.js';

const SETTINGS = [
  ['target_duration_s', 'Duration (s)', 'number', { min: 1, max: 3600, step: 'any', placeholder: '30' }],
  ['width', 'Width (px)', 'number', { min: 16, max: 3840, step: 2, placeholder: '640' }],
  ['height', 'Height (px)', 'number', { min: 16, max: 2160, step: 2, placeholder: '360' }],
  ['fps', 'Frames per second', 'number', { min: 1, max: 120, placeholder: '24' }],
  ['style', 'Style', 'text', { placeholder: 'storybook', maxlength: 200 }],
  ['seed', 'Seed', 'text', { placeholder: '0', inputmode: 'numeric', pattern: '[0-9]*' }],
  ['candidates', 'Candidates to pick from', 'number', { min: 1, max: 4, placeholder: '1' }],
];

function field(name, label, control, hint) {
  if (control.matches && control.matches('input, textarea, select')) control.setAttribute('aria-describedby', 'e-' + name);
  return h('div.field', { dataset: { field: name } },
    h('label', { for: 'f-' + name }, label), control,
    hint ? h('small.hint', {}, hint) : null,
    h('p.field-error', { id: 'e-' + name, role: 'alert' }));
}

export async function showCreate(main, current = () => true) {
  document.title = 'New episode · Showrunner';
  const workflow = h('select', { id: 'f-workflow', name: 'workflow' },
    h('option', { value: 'idea2video' }, 'From an idea'),
    h('option', { value: 'script2video' }, 'From a screenplay (Fountain)'));
  const idea = h('textarea', { id: 'f-idea', name: 'idea', rows: 3, maxlength: 4000, placeholder: 'a shy robot baker who loses her recipe the night before the fair' });
  const script = h('textarea', { id: 'f-script', name: 'script', rows: 10, placeholder: 'INT. KITCHEN - NIGHT…' });
  const file = h('input', { id: 'f-file', type: 'file', accept: '.fountain,.txt,text/plain' });
  const series = h('select', { id: 'f-series_id', name: 'series_id' }, h('option', { value: '' }, 'No series'));
  const ideaField = field('idea', 'Idea', idea);
  const scriptField = field('script', 'Screenplay', h('div', {}, script, h('div.upload', {}, h('label', { for: 'f-file' }, 'or upload a .fountain file: '), file)));
  const settings = SETTINGS.map(([name, label, type, attrs]) => field('settings.' + name, label, h('input', { id: 'f-settings.' + name, name, type, ...attrs })));
  const reviewItems = h('input', { type: 'checkbox', id: 'f-settings.review_items' });
  const review = h('div.field.check', { dataset: { field: 'settings.review_items' } },
    reviewItems, h('label', { for: 'f-settings.review_items' }, 'Review each portrait, scene image and keyframe'),
    h('p.field-error', { role: 'alert' }));
  const formError = h('p.error', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Create episode');
  const form = h('form.create', { novalidate: true },
    field('workflow', 'Workflow', workflow), ideaField, scriptField,
    h('fieldset', {}, h('legend', {}, 'Settings (empty means the default)'), h('div.grid', {}, settings), review),
    field('series_id', 'Series', series), formError, h('div.actions', {}, submit));
  const sync = () => {
    const fromScript = workflow.value === 'script2video';
    ideaField.hidden = fromScript;
    scriptField.hidden = !fromScript;
  };
  workflow.addEventListener('change', sync);
  sync();
  file.addEventListener('change', async () => {
    const f = file.files[0];
    if (!f) return;
    if (f.size > 200000) { showError(form, 'script', 'The screenplay is over 200,000 characters: the server takes at most that.'); return; }
    script.value = await f.text();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    formError.textContent = '';
    const body = { workflow: workflow.value };
    if (workflow.value === 'script2video') body.script = script.value; else body.idea = idea.value;
    if (series.value) body.series_id = series.value;
    const values = {};
    for (const [name, , type] of SETTINGS) {
      const v = form.querySelector(`[id="f-settings.${name}"]`).value.trim();
      if (v === '') continue;
      values[name] = type === 'number' ? Number(v) : v;
    }
    if (reviewItems.checked) values.review_items = true;
    if (Object.keys(values).length) body.settings = values;
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const created = await api('/episodes', { method: 'POST', body });
      navigate(`/episodes/${created.data.id}`);
    } catch (err) {
      const path = err instanceof ApiError ? err.details.path : null;
      if (!path || !showError(form, path, err.message)) formError.textContent = err.message;
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create episode';
    }
  });
  fill(main, h('h1', {}, 'New episode'), form);
  idea.focus();
  try {
    const list = await api('/series?limit=100');
    for (const s of list.data) series.append(h('option', { value: s.id }, s.title || s.id));
    const asked = new URLSearchParams(location.search).get('series');
    if (asked && list.data.some((s) => s.id === asked)) series.value = asked;
  } catch { /* no series to offer */ }
}

/** Puts `message` under the field `path` names (`settings.fps`, `idea`); false if none does. */
export function showError(form, path, message) {
  const name = String(path).replace(/^\.|^value\./, '');
  let target = null;
  for (const el of form.querySelectorAll('.field')) {
    const f = el.dataset.field;
    if (name === f || name.startsWith(f + '.') || name.startsWith(f + '[')) target = el;
  }
  if (!target) return false;
  target.classList.add('invalid');
  target.querySelector('.field-error').textContent = message;
  const control = target.querySelector('input, textarea, select');
  if (control) { control.setAttribute('aria-invalid', 'true'); control.focus(); }
  return true;
}

function clearErrors(form) {
  for (const el of form.querySelectorAll('.field.invalid')) {
    el.classList.remove('invalid');
    el.querySelector('.field-error').textContent = '';
    const control = el.querySelector('[aria-invalid]');
    if (control) control.removeAttribute('aria-invalid');
  }
}
