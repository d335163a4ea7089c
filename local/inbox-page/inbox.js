// The dev inbox page: polls /_dev/messages and shows each message. Message fields are untrusted
// text: they only ever go into textContent and attributes, never into markup (the page's CSP
// requires Trusted Types, so an innerHTML here would throw instead of rendering).
'use strict';

const POLL_MS = 1000;

const list = document.getElementById('messages');
const empty = document.getElementById('empty');
const status = document.getElementById('status');
const input = document.getElementById('to');
const template = document.getElementById('message');

/** Rendered messages by key, so a poll that brings nothing new leaves the page (and the copy feedback) alone. */
const rendered = new Map();
/** Keys of every message seen, and of those that arrived while the page was open (highlighted once). */
const known = new Set();
const fresh = new Set();
const resetTimers = new WeakMap();
let messages = [];
let loaded = false;
let shownKeys = '';

const keyOf = (m) => `${m.channel}:${m.id}:${m.to}`;

/** Case, spaces and a `whatsapp:` prefix do not matter; `+` in a hand-typed URL arrives as a space. */
const normalise = (text) => text.toLowerCase().replace(/^whatsapp:/, '').replace(/\s+/g, '');

const query = () => normalise(input.value);
const matches = (m, q) => q === '' || normalise(m.to).includes(q);

const channelNames = { sms: 'SMS', whatsapp: 'WhatsApp', email: 'Email' };

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

const ago = (iso) => {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return timeFormat.format(new Date(iso));
};

const flash = (button, text) => {
  button.textContent = text;
  clearTimeout(resetTimers.get(button));
  resetTimers.set(
    button,
    setTimeout(() => {
      button.textContent = 'Copy';
    }, 2000),
  );
};

const selectText = (element) => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
};

const copy = async (button, codeElement) => {
  const code = codeElement.textContent;
  try {
    // Undefined outside a secure context; localhost and 127.0.0.1 are secure, a LAN address is not.
    if (!navigator.clipboard) throw new Error('no clipboard');
    await navigator.clipboard.writeText(code);
    flash(button, 'Copied');
  } catch {
    selectText(codeElement);
    flash(button, 'Press Ctrl+C');
  }
};

const render = (m, key) => {
  const item = template.content.firstElementChild.cloneNode(true);
  item.dataset.channel = m.channel;
  item.dataset.to = m.to;
  item.querySelector('.channel').textContent = channelNames[m.channel] ?? m.channel;
  // The badge already says WhatsApp; Twilio's `whatsapp:` address prefix would only add noise.
  item.querySelector('.to').textContent = m.to.replace(/^whatsapp:/, '');
  const time = item.querySelector('time');
  time.dateTime = m.sentAt;
  time.title = timeFormat.format(new Date(m.sentAt));
  time.textContent = ago(m.sentAt);
  const subject = item.querySelector('.subject');
  if (m.subject) subject.textContent = m.subject;
  else subject.remove();
  const codeRow = item.querySelector('.code-row');
  if (m.code) {
    const code = item.querySelector('.code');
    code.textContent = m.code;
    const button = item.querySelector('.copy');
    button.addEventListener('click', () => void copy(button, code));
  } else {
    codeRow.remove();
  }
  item.querySelector('.body').textContent = m.body;
  if (fresh.has(key)) {
    item.classList.add('fresh');
    // Highlighted once: moved back into the list by the filter later, it is no longer news.
    item.addEventListener('animationend', () => item.classList.remove('fresh'), { once: true });
  }
  return item;
};

const show = () => {
  const q = query();
  const visible = messages.filter((m) => matches(m, q));
  const keys = visible.map(keyOf).join('\n');
  if (keys !== shownKeys) {
    list.replaceChildren(
      ...visible.map((m) => {
        const key = keyOf(m);
        if (!rendered.has(key)) rendered.set(key, render(m, key));
        return rendered.get(key);
      }),
    );
    shownKeys = keys;
  }
  for (const time of list.querySelectorAll('time')) time.textContent = ago(time.dateTime);

  empty.hidden = visible.length > 0;
  if (messages.length === 0) empty.textContent = 'No messages yet. Sign up or log in through the API and the code shows up here.';
  else if (visible.length === 0) empty.textContent = `No messages to “${input.value.trim()}”.`;
  const counts = q === '' ? `${messages.length} message${messages.length === 1 ? '' : 's'}` : `${visible.length} of ${messages.length} messages`;
  setStatus(`Live · ${counts}`, 'live');
};

const setStatus = (text, state) => {
  if (status.textContent !== text) status.textContent = text;
  status.dataset.state = state;
};

let timer;
let polling = false;
const poll = async () => {
  if (polling) return; // the request under way schedules the next one
  polling = true;
  clearTimeout(timer);
  try {
    let latest;
    try {
      const response = await fetch('/_dev/messages', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      latest = await response.json();
    } catch {
      setStatus('The local server does not answer (is npm start running?); retrying…', 'down');
      return;
    }
    messages = latest;
    for (const m of messages) {
      const key = keyOf(m);
      if (!known.has(key) && loaded) fresh.add(key);
      known.add(key);
    }
    loaded = true;
    show();
  } finally {
    polling = false;
    // A background tab asks rarely; it catches up the moment it is shown again.
    timer = setTimeout(poll, document.hidden ? POLL_MS * 10 : POLL_MS);
  }
};

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void poll();
});

input.value = new URLSearchParams(location.search).get('to') ?? '';
input.addEventListener('input', () => {
  // The filter lives in the URL, so a reload or a shared link keeps it.
  const url = new URL(location.href);
  if (input.value.trim() === '') url.searchParams.delete('to');
  else url.searchParams.set('to', input.value.trim());
  history.replaceState(null, '', url);
  if (loaded) show();
});
document.getElementById('filter').addEventListener('submit', (event) => event.preventDefault());

void poll();
