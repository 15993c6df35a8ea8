// The studio's entry: reads the path, shows the view it names, and keeps links inside the page.

import { navigate } from './dom.js';
import { showInbox } from './inbox.js';
import { showCreate } from './create.js';
import { EpisodeView } from './episode.js';
import { showSeries, showSeriesList } from './series.js';
import { showCompare } from './compare.js';

const main = document.getElementById('main');
let episodeView = null;
let shown = 0;

/** The path's segments, each decoded; null for a path that does not decode. */
function segments(path) {
  try {
    return path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return null;
  }
}

function route() {
  const parts = segments(location.pathname) || [];
  // A view that finishes loading after the person moved on draws nothing.
  const ticket = ++shown;
  const current = () => ticket === shown;
  if (parts[0] === 'episodes' && parts[1]) {
    const selection = { node: parts[3] || null, item: parts[5] || null };
    if (!episodeView || episodeView.id !== parts[1]) {
      if (episodeView) episodeView.close();
      episodeView = new EpisodeView(main, parts[1]);
      main.focus();
    }
    episodeView.select(selection);
    return;
  }
  if (episodeView) { episodeView.close(); episodeView = null; }
  if (parts[0] === 'new') showCreate(main, current);
  else if (parts[0] === 'compare' && parts[1] && parts[2]) showCompare(main, parts[1], parts[2], current);
  else if (parts[0] === 'series' && parts[1]) showSeries(main, parts[1], current);
  else if (parts[0] === 'series') showSeriesList(main, current);
  else showInbox(main, current);
  main.focus();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);
window.addEventListener('studio:navigate', route);
route();
