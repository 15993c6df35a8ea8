// Small helpers for building the page: elements, text, times, and navigation.

/** An element: h('button.primary', {onclick}, 'Approve'). Children may be nodes, strings, arrays. */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A link inside the studio (navigates without a reload). */
export function link(href, ...children) {
  return h('a', { href, 'data-link': true }, ...children);
}

/** "3 min ago" for a millisecond timestamp, with the full date as its title. */
export function ago(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  const text = s < 60 ? 'just now' : s < 3600 ? `${Math.floor(s / 60)} min ago`
    : s < 86400 ? `${Math.floor(s / 3600)} h ago` : new Date(ms).toLocaleDateString();
  return h('time', { datetime: new Date(ms).toISOString(), title: new Date(ms).toLocaleString() }, text);
}

/** A state's badge. */
export function badge(state) {
  return h('span.badge.state-' + state, {}, state.replace(/_/g, ' '));
}

/** Shows a short message at the bottom of the page. */
export function toast(message) {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

/** Goes to a studio path (history entry, no reload). */
export function navigate(path) {
  if (location.pathname + location.search !== path) history.pushState(null, '', path);
  window.dispatchEvent(new Event('studio:navigate'));
}

/** Runs `rebuild`, which redraws `container`, and gives the focus back to the control inside it
 * that had it (found again by its id, label, link or text, with the caret where it was), so a
 * live redraw does not throw a keyboard user out of what they were doing. */
export function keepingFocus(container, rebuild) {
  const active = document.activeElement;
  if (!active || active === document.body || !container.contains(active)) return rebuild();
  const key = focusKey(active);
  if (!key) return rebuild();
  const caret = typeof active.selectionStart === 'number' ? [active.selectionStart, active.selectionEnd] : null;
  const result = rebuild();
  if (container.contains(active)) return result;
  const again = [...container.querySelectorAll(active.tagName)].find((el) => focusKey(el) === key);
  if (again) {
    again.focus({ preventScroll: true });
    if (caret) try { again.setSelectionRange(...caret); } catch { /* not a text field */ }
  }
  return result;
}

function focusKey(el) {
  return el.id || el.getAttribute('aria-label') || el.getAttribute('href') || el.textContent.trim();
}
