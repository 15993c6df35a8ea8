// The episode's chat: the conversation read from the server, a box to write in, and the
// replies with what they did, linked to the node they concern.

import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { instancePath } from './inbox.js';

export class Chat {
  constructor(view) {
    this.view = view;
    this.seen = new Set();
    this.list = h('ol.chat-lines', { 'aria-label': 'Conversation' });
    this.input = h('input', { type: 'text', id: 'chat-input', maxlength: 4000, placeholder: 'Say what to do: “approve”, “make it hopeful”…', 'aria-label': 'Message' });
    this.button = h('button', { type: 'submit' }, 'Send');
    const form = h('form.chat-form', {}, this.input, this.button);
    form.addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    this.el = h('div.chat', {}, this.list, form);
  }

  async load() {
    try {
      const lines = (await api(`/episodes/${encodeURIComponent(this.view.id)}/messages`)).data;
      for (const line of lines) this.add(line);
    } catch { /* the log still shows the messages */ }
  }

  /** Lines arrive as `Message` events too: the same stream as the gates'. */
  onEvents(events) {
    for (const e of events) if (e.type === 'Message') this.add({ seq: e.seq, author: e.author, text: e.text, data: e.data });
  }

  add(line) {
    if (this.seen.has(line.seq)) return;
    this.seen.add(line.seq);
    const node = line.data && line.data.node;
    const actions = (line.data && line.data.actions) || [];
    const li = h('li.chat-' + line.author, { dataset: { seq: line.seq } },
      h('span.who', {}, line.author === 'user' ? 'You' : 'Studio'), ' ', line.text,
      node ? [' ', link(`/episodes/${this.view.id}/nodes/${encodeURIComponent(node)}`, '→ ' + node)] : null,
      actions.length ? h('div.muted', {}, actions.map((a) => `${a.action} ${a.key.item ? a.key.node + ' · ' + a.key.item : a.key.node}`).join(', ')) : null);
    const after = [...this.list.children].find((c) => Number(c.dataset.seq) > line.seq);
    this.list.insertBefore(li, after || null);
    this.list.scrollTop = this.list.scrollHeight;
  }

  async send() {
    const text = this.input.value.trim();
    if (!text || this.sending) return;
    this.sending = true;
    this.button.disabled = true;
    try {
      await api(`/episodes/${encodeURIComponent(this.view.id)}/messages`, { method: 'POST', body: { text } });
      // Cleared once sent: a message that failed stays to be sent again.
      this.input.value = '';
      this.view.refresh();
    } catch (e) {
      fill(this.list.appendChild(h('li.chat-error', { role: 'alert' })), e.message);
    } finally {
      this.sending = false;
      this.button.disabled = false;
    }
  }
}
