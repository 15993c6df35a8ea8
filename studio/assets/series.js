// Series: the list and a new one (title, bible, regular cast), and a series' page with its
// bible and cast (edited in `series_edit.js`), where reference images are dropped onto a character (the API's limits said
// in words when it refuses one).

import { api, seriesArtifact } from './api.js';
import { h, fill, link, ago, navigate, toast } from './dom.js';
import { seriesEditForm } from './series_edit.js';

/** What the server's refusal of an upload means, for a person. */
const UPLOAD_REFUSALS = {
  payload_too_large: 'That image is over the upload limit (10 MB unless the server says otherwise).',
  unsupported_media_type: 'Only PNG and JPEG images are taken.',
  invalid_image: 'That image does not decode in full, or is over 8192 pixels a side.',
  too_many_references: 'A character has at most three reference images.',
};

export async function showSeriesList(main, current = () => true) {
  document.title = 'Series · Showrunner';
  fill(main, h('h1', {}, 'Series'), h('p.loading', {}, 'Loading series…'));
  let list;
  try {
    list = (await api('/series?limit=100')).data;
  } catch (e) {
    if (current()) fill(main, h('h1', {}, 'Series'), h('p.error', { role: 'alert' }, e.message));
    return;
  }
  if (!current()) return;
  const title = h('input', { id: 's-title', maxlength: 200, required: true });
  const style = h('input', { id: 's-style', maxlength: 500, placeholder: 'ink and watercolour, muted greens' });
  const world = h('textarea', { id: 's-world', rows: 2 });
  const rules = h('textarea', { id: 's-rules', rows: 2, placeholder: 'one rule a line' });
  const cast = h('textarea', { id: 's-cast', rows: 3, placeholder: 'one character a line: Name — role' });
  const error = h('p.error', { role: 'alert' });
  const form = h('form.create', {},
    h('h2', {}, 'A new series'),
    ...[['s-title', 'Title', title], ['s-style', 'Visual style', style], ['s-world', 'World', world],
      ['s-rules', 'Rules', rules], ['s-cast', 'Regular cast', cast]]
      .map(([id, label, control]) => h('div.field', {}, h('label', { for: id }, label), control)),
    error, h('div.actions', {}, h('button.primary', { type: 'submit' }, 'Create series')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);
    const characters = lines(cast.value).map((l) => {
      const [name, ...role] = l.split(/\s+[—-]\s+/);
      return { name: name.trim(), role: role.join(' — ').trim() };
    });
    const body = { title: title.value, bible: { visual_style: style.value, world: world.value, rules: lines(rules.value) }, characters };
    try {
      const made = (await api('/series', { method: 'POST', body })).data;
      navigate(`/series/${made.id}`);
    } catch (err) {
      error.textContent = err.details && err.details.path ? `${err.details.path}: ${err.message}` : err.message;
    }
  });
  fill(main, h('h1', {}, 'Series'),
    list.length ? h('ul.inbox', { 'aria-label': 'Series' }, list.map((s) => h('li', {},
      link(`/series/${s.id}`, h('strong', {}, s.title)), ' ', h('span.muted', {}, `${s.characters.length} regulars · revision ${s.revision}`), ' ', ago(s.updated_at))))
      : h('p.empty', {}, 'No series yet.'),
    form);
}

export async function showSeries(main, id, current = () => true) {
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(id)) { fill(main, h('p.error', { role: 'alert' }, 'That is not a series id.')); return; }
  let series;
  try {
    series = (await api(`/series/${id}`)).data;
  } catch (e) {
    if (current()) fill(main, h('h1', {}, 'Series'), h('p.error', { role: 'alert' }, e.message));
    return;
  }
  if (!current()) return;
  document.title = `${series.title} · Showrunner`;
  const bible = series.bible || {};
  const edit = () => {
    const form = seriesEditForm(series, {
      onSaved: (saved) => { toast(`Saved ${saved.title} (revision ${saved.revision}).`); showSeries(main, id, current); },
      onCancel: () => showSeries(main, id, current),
    });
    fill(main, h('h1', {}, series.title), form);
    form.querySelector('input').focus();
  };
  fill(main,
    h('h1', {}, series.title),
    h('p.muted', {}, `revision ${series.revision} · `, link(`/new?series=${series.id}`, 'a new episode in this series'), ' · ',
      h('button.link', { type: 'button', onclick: edit }, 'Edit the bible and cast')),
    h('section.panel', { 'aria-labelledby': 'bible-h' }, h('h2', { id: 'bible-h' }, 'Bible'),
      h('dl', {}, h('dt', {}, 'Visual style'), h('dd', {}, bible.visual_style || '—'), h('dt', {}, 'World'), h('dd', {}, bible.world || '—'),
        h('dt', {}, 'Rules'), h('dd', {}, (bible.rules || []).length ? h('ul.plain', {}, bible.rules.map((r) => h('li', {}, r))) : '—'))),
    h('h2', {}, 'Regular cast'),
    series.characters.length
      ? h('ul.cards', {}, series.characters.map((c) => h('li', {}, castCard(main, series, c, current))))
      : h('p.empty', {}, 'No regular characters.'));
}

/** A regular character with its reference images and a place to drop more. */
function castCard(main, series, character, current) {
  const images = h('div.side-by-side');
  for (const ref of character.reference_images || []) {
    const hash = String(ref).replace(/^blob:/, '');
    seriesArtifact(series.id, hash).then((a) => images.append(h('img', { src: a.url, alt: `${character.name}, a reference` })),
      () => images.append(h('span.muted', {}, 'unavailable')));
  }
  const status = h('p.field-error', { role: 'alert' });
  const file = h('input.visually-hidden', { type: 'file', accept: 'image/png,image/jpeg', id: `ref-${character.id}` });
  const zone = h('div.drop', { tabindex: 0, role: 'button', 'aria-label': `Add a reference image of ${character.name}` },
    'Drop a PNG or JPEG here, or ', h('label', { for: `ref-${character.id}` }, h('span.linkish', {}, 'choose one')), file);
  const upload = async (f) => {
    status.textContent = '';
    if (!f) return;
    const type = f.type === 'image/png' || f.type === 'image/jpeg' ? f.type : null;
    if (!type) { status.textContent = UPLOAD_REFUSALS.unsupported_media_type; return; }
    zone.classList.add('busy');
    try {
      await api(`/series/${series.id}/characters/${encodeURIComponent(character.id)}/references?revision=${series.revision}`,
        { method: 'POST', body: f, type });
      toast(`Added a reference image of ${character.name}.`);
      showSeries(main, series.id, current);
    } catch (e) {
      status.textContent = UPLOAD_REFUSALS[e.code] || e.message;
    } finally {
      zone.classList.remove('busy');
    }
  };
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => { e.preventDefault(); zone.classList.remove('over'); upload(e.dataTransfer.files[0]); });
  zone.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); file.click(); } });
  file.addEventListener('change', () => upload(file.files[0]));
  return [h('h3', {}, character.name, character.role ? h('span.muted', {}, ' · ' + character.role) : null),
    images, zone, status];
}
