// InteraRec capture script: window.InteraRec = { start, stop, consent, on, off, flush, state }.
// Nothing is captured before consent(true); see the README's "Browser capture" and "Privacy" sections.
import { captureAllowed, FrameQueue, hamming, outcome, retryDelayMs } from './client.js';
import { DEFAULT_BLOCKED_PATHS, DEFAULT_MASK_SELECTOR, maskText, pageBlocked } from './masking.js';
import { renderViewport, toJpeg } from './render.js';

const DEFAULTS = {
  gateway: '', // e.g. https://gateway.example.com (CORS: the shop's origin must be configured for the tenant)
  token: '', // a session token minted by the shop's backend ...
  tokenUrl: '', // ... or a same-origin URL answering {"token": "..."} (fetched again when it expires)
  sessionId: '',
  fps: 1, // periodic frames per second (at most 2), plus one after navigation and after scrolling settles
  quality: 0.7, // JPEG quality
  scale: 1,
  maskSelector: DEFAULT_MASK_SELECTOR,
  blockedPaths: DEFAULT_BLOCKED_PATHS, // path prefixes (or RegExps) never captured
  honourGlobalPrivacyControl: true, // navigator.globalPrivacyControl === true: no capture, whatever consent says
  queueSize: 4,
  settleMs: 400, // scrolling or navigation quiet for this long -> one frame
};
const KEEPALIVE_LIMIT = 60 * 1024; // browsers refuse keepalive bodies over 64 KiB in flight

const state = {
  options: { ...DEFAULTS },
  started: false,
  consent: false,
  seq: 0,
  lastHash: null,
  lastUrl: '',
  busy: false,
  sending: false,
  attempt: 0,
  retryAt: 0,
  timer: 0,
  settle: 0,
  sent: 0,
  skipped: 0,
  lastError: '',
  queue: new FrameQueue(DEFAULTS.queueSize),
};
const listeners = { error: new Set(), frame: new Set(), skip: new Set() };

function emit(event, detail) {
  if (event === 'error') {
    state.lastError = `${detail.stage}: ${detail.error ? String(detail.error) : `HTTP ${detail.status}`}`;
  }
  for (const fn of listeners[event] || []) {
    try {
      fn(detail);
    } catch { /* a listener's failure is the shop's, not ours */ }
  }
}

function latin1(text, limit) { // header values must be ISO-8859-1
  return maskText(String(text || '')).replace(/[^\x20-\x7e\xa0-\xff]/g, '?').slice(0, limit);
}

function blocked() {
  return pageBlocked(location.href, state.options.blockedPaths);
}

function allowed() {
  return captureAllowed({
    started: state.started,
    consent: state.consent,
    hidden: document.visibilityState === 'hidden',
    blocked: blocked(),
    gpc: navigator.globalPrivacyControl === true,
    honourGpc: state.options.honourGlobalPrivacyControl,
  });
}

async function token(refresh) {
  const o = state.options;
  if (o.tokenUrl && (refresh || !o.token)) {
    const resp = await fetch(o.tokenUrl, { credentials: 'same-origin', cache: 'no-store' });
    if (!resp.ok) throw new Error(`token URL answered ${resp.status}`);
    o.token = (await resp.json()).token || '';
  }
  return o.token;
}

async function capture(reason) {
  if (state.busy || !allowed()) return;
  state.busy = true;
  try {
    performance.mark('interarec-frame-start');
    const { canvas, hash } = await renderViewport(document, { selector: state.options.maskSelector,
      scale: state.options.scale });
    // Consent withdrawn, tab hidden or page left while rendering: the frame is thrown away.
    if (!allowed()) return;
    if (state.lastHash && hamming(hash, state.lastHash) === 0 && location.href === state.lastUrl) {
      state.skipped += 1;
      emit('skip', { reason: 'unchanged' });
      return;
    }
    const blob = await toJpeg(canvas, state.options.quality);
    performance.mark('interarec-frame-end');
    performance.measure('interarec-frame', 'interarec-frame-start', 'interarec-frame-end');
    state.lastHash = hash;
    state.lastUrl = location.href;
    state.queue.push({ blob, seq: ++state.seq, at: Date.now(), url: location.href, title: document.title, reason });
    send();
  } catch (err) {
    emit('error', { stage: 'render', error: err });
  } finally {
    state.busy = false;
  }
}

function request(frame, tok, keepalive) {
  return fetch(`${state.options.gateway.replace(/\/$/, '')}/v1/sessions/${encodeURIComponent(state.options.sessionId)}/frames`, {
    method: 'POST',
    mode: 'cors',
    credentials: 'omit',
    keepalive,
    body: frame.blob,
    headers: {
      Authorization: `Bearer ${tok}`,
      'Content-Type': 'image/jpeg',
      'X-Frame-Seq': String(frame.seq),
      'X-Capture-Time': String(frame.at),
      'X-Page-Url': latin1(frame.url, 2048),
      'X-Page-Title': latin1(frame.title, 512),
    },
  });
}

async function send() {
  if (state.sending || !state.queue.length || Date.now() < state.retryAt) return;
  state.sending = true;
  const frame = state.queue.shift();
  let status = 0;
  let retryAfter = null;
  try {
    let resp = await request(frame, await token(false), false);
    if (outcome(resp.status) === 'token' && state.options.tokenUrl) resp = await request(frame, await token(true), false);
    status = resp.status;
    retryAfter = resp.headers.get('Retry-After');
  } catch (err) {
    emit('error', { stage: 'send', error: err });
  }
  const next = outcome(status);
  if (next === 'sent') {
    state.attempt = 0;
    state.sent += 1;
    emit('frame', { seq: frame.seq, status });
  } else if (next === 'retry') {
    state.queue.unshift(frame);
    const delay = retryDelayMs(state.attempt++, retryAfter);
    state.retryAt = Date.now() + delay;
    setTimeout(send, delay);
  } else {
    emit('error', { stage: 'send', status, seq: frame.seq });
  }
  state.sending = false;
  if (next === 'sent') send();
}

/** Page being hidden or left: what is still queued goes out with keepalive (small frames only). */
function flush() {
  if (!state.options.token) return;
  while (state.queue.length) {
    const frame = state.queue.shift();
    if (frame.blob.size > KEEPALIVE_LIMIT) continue;
    request(frame, state.options.token, true).catch(() => {});
  }
}

function soon(reason) {
  clearTimeout(state.settle);
  state.settle = setTimeout(() => capture(reason), state.options.settleMs);
}

const onScroll = () => soon('scroll');
const onNavigate = () => soon('navigation');
const onVisibility = () => {
  if (document.visibilityState === 'hidden') flush();
  else soon('visible');
};

function tick() {
  capture('periodic');
  send();
}

export function start(options = {}) {
  stop();
  const o = { ...DEFAULTS, ...options };
  o.fps = Math.min(Math.max(Number(o.fps) || DEFAULTS.fps, 0.1), 2);
  if (!o.gateway || !o.sessionId || !(o.token || o.tokenUrl)) {
    throw new Error('InteraRec.start needs gateway, sessionId and token (or tokenUrl)');
  }
  state.options = o;
  state.queue = new FrameQueue(o.queueSize);
  state.started = true;
  state.timer = setInterval(tick, 1000 / o.fps);
  addEventListener('scroll', onScroll, { passive: true });
  addEventListener('popstate', onNavigate);
  addEventListener('hashchange', onNavigate);
  addEventListener('pagehide', flush);
  document.addEventListener('visibilitychange', onVisibility);
  soon('navigation');
}

export function stop() {
  state.started = false;
  clearInterval(state.timer);
  clearTimeout(state.settle);
  removeEventListener('scroll', onScroll);
  removeEventListener('popstate', onNavigate);
  removeEventListener('hashchange', onNavigate);
  removeEventListener('pagehide', flush);
  document.removeEventListener('visibilitychange', onVisibility);
}

/** The shopper's choice. Until consent(true) nothing is rendered or sent; consent(false) stops at once and
 * discards what is queued. */
export function consent(granted) {
  state.consent = granted === true;
  if (!state.consent) {
    state.queue = new FrameQueue(state.options.queueSize);
  } else if (state.started) {
    soon('consent');
  }
}

export function on(event, fn) {
  listeners[event]?.add(fn);
}

export function off(event, fn) {
  listeners[event]?.delete(fn);
}

export function stats() {
  return { started: state.started, consent: state.consent, sent: state.sent, skipped: state.skipped,
    queued: state.queue.length, dropped: state.queue.dropped, seq: state.seq, lastError: state.lastError };
}

export { flush, capture };

// SPA navigations: history.pushState/replaceState fire no event of their own.
for (const method of ['pushState', 'replaceState']) {
  const original = history[method];
  history[method] = function patched(...args) {
    const result = original.apply(this, args);
    if (state.started) onNavigate();
    return result;
  };
}

// <script src=".../interarec-capture.js" data-gateway=... data-session-id=... data-token-url=...>: start
// at once (still waiting for consent).
const tag = document.currentScript;
if (tag && tag.dataset.gateway) {
  try {
    start({
      gateway: tag.dataset.gateway,
      sessionId: tag.dataset.sessionId,
      token: tag.dataset.token || '',
      tokenUrl: tag.dataset.tokenUrl || '',
      fps: Number(tag.dataset.fps) || DEFAULTS.fps,
    });
  } catch (err) {
    emit('error', { stage: 'start', error: err });
  }
}
