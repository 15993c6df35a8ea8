// The studio's only way to the server: the public /api/v1, with the tab's API key when the
// server asks for one, an event stream that resumes where it stopped, and artifacts as blob URLs.

const KEY = 'showrunner.key';
const BASE = '/api/v1';

/** A failed request: the API's error code, message and details (such as a field's `path`). */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || 'http_' + status;
    this.details = error.details || {};
  }
}

function authHeaders() {
  const key = sessionStorage.getItem(KEY);
  return key ? { Authorization: 'Bearer ' + key } : {};
}

let asking = null;

/** Asks the person for an API key (one dialog however many requests wait for it). */
function askKey(message) {
  if (asking) return asking;
  const dialog = document.getElementById('key-dialog');
  const input = document.getElementById('key-input');
  document.getElementById('key-error').textContent = message || '';
  asking = new Promise((resolve) => {
    dialog.addEventListener('close', function done() {
      dialog.removeEventListener('close', done);
      const key = input.value.trim();
      input.value = '';
      if (key) sessionStorage.setItem(KEY, key);
      asking = null;
      resolve();
    });
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return asking;
}

/** After a 401: forgets the key the request was sent with and asks for another, unless the
 * person gave one meanwhile. */
async function refused(sent, message = '') {
  if (sessionStorage.getItem(KEY) === sent) sessionStorage.removeItem(KEY);
  if (!sessionStorage.getItem(KEY)) await askKey(message);
}

/** Calls the API; JSON in and out. A 401 asks for a key and tries again. */
export async function api(path, { method = 'GET', body, type, signal } = {}) {
  for (;;) {
    const sent = sessionStorage.getItem(KEY);
    const headers = authHeaders();
    let payload = body;
    if (body !== undefined && type === undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    } else if (type) {
      headers['Content-Type'] = type;
    }
    const res = await fetch(BASE + path, { method, headers, body: payload, signal });
    if (res.status === 401) {
      await refused(sent, sent ? 'That key was refused. Try another.' : '');
      continue;
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }
}

const blobs = new Map();

/** A blob URL for the artifact at `url` (under /api/v1), fetched once with the key and kept
 * under `id`; its type with it. */
function blobAt(id, url) {
  if (!blobs.has(id)) {
    const loading = (async () => {
      for (;;) {
        const sent = sessionStorage.getItem(KEY);
        const res = await fetch(BASE + url, { headers: authHeaders() });
        if (res.status === 401) { await refused(sent); continue; }
        if (!res.ok) throw new ApiError(res.status, null);
        const blob = await res.blob();
        return { url: URL.createObjectURL(blob), type: blob.type || res.headers.get('content-type') || '' };
      }
    })();
    // A failure is not kept: the next look tries again.
    loading.catch(() => blobs.delete(id));
    blobs.set(id, loading);
  }
  return blobs.get(id);
}

/** An artifact of an episode, as a blob URL and its type. */
export function artifact(episode, hash) {
  return blobAt(episode + '/' + hash, `/episodes/${encodeURIComponent(episode)}/artifacts/${encodeURIComponent(hash)}`);
}

/** An artifact of a series (a reference image), as a blob URL and its type. */
export function seriesArtifact(series, hash) {
  return blobAt('series/' + series + '/' + hash, `/series/${encodeURIComponent(series)}/artifacts/${encodeURIComponent(hash)}`);
}

/** Lets go of an episode's artifacts (their blob URLs), when its view closes. */
export function forget(episode) {
  for (const [id, loading] of blobs) {
    if (!id.startsWith(episode + '/')) continue;
    blobs.delete(id);
    loading.then((a) => URL.revokeObjectURL(a.url), () => {});
  }
}

/**
 * Follows an episode's events from sequence number `from`: each event once, in order, however
 * often the connection drops (it resumes with Last-Event-ID). `onState` hears 'live',
 * 'reconnecting' and 'ended'. Returns a handle whose stop() ends it.
 */
export function follow(episode, from, onEvent, onState) {
  let last = Math.max(0, from - 1);
  let stopped = false;
  let controller = null;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  (async () => {
    let delay = 250;
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = { ...authHeaders(), Accept: 'text/event-stream' };
        if (last > 0) headers['Last-Event-ID'] = String(last);
        const sent = sessionStorage.getItem(KEY);
        const res = await fetch(`${BASE}/episodes/${encodeURIComponent(episode)}/events`, { headers, signal: controller.signal });
        if (res.status === 401) { await refused(sent); continue; }
        if (res.status === 404) { onState('ended'); return; }
        if (!res.ok) throw new ApiError(res.status, null);
        onState('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const lines = block.split('\n');
            const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
            const named = lines.find((l) => l.startsWith('event:'));
            if (!data || named) continue;
            // Once events flow, a later drop retries quickly again.
            delay = 250;
            let event;
            try { event = JSON.parse(data); } catch {
              // An event this page cannot read is skipped, not fetched again and again.
              const id = Number((lines.find((l) => l.startsWith('id:')) || '').slice(3));
              if (id > last) last = id;
              continue;
            }
            if (event.seq > last) {
              last = event.seq;
              onEvent(event);
            }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      if (stopped) return;
      onState('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
  })();
  return {
    stop() { stopped = true; if (controller) controller.abort(); },
    /** Drops the connection; the stream reconnects and resumes after the last event seen. */
    drop() { if (controller) controller.abort(); },
    get last() { return last; },
  };
}
