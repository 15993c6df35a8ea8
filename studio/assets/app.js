// The studio's entry: reads the path, shows the view it names, and keeps links inside the page.

import { navigate } from './dom.js';
import { showInbox } from './inbox.js';
import { showCreate } from './create.js';
import { EpisodeView } from './episode.js';

const main = document.getElementById('main');
let episodeView = null;

function route() {
  const path = decodeURIComponent(location.pathname);
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'episodes' && parts[1]) {
    const selection = { node: parts[3] || null, item: parts[5] || null };
    if (!episodeView || episodeView.id !== parts[1]) {
      if (episodeView) episodeView.close();
      episodeView = new EpisodeView(main, parts[1]);
    }
    episodeView.select(selection);
    return;
  }
  if (episodeView) { episodeView.close(); episodeView = null; }
  if (parts[0] === 'new') showCreate(main);
  else showInbox(main);
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
