// The capture client's decisions, separated from the DOM and the network so node --test can check them.

/** Whether to take a frame now. Each reason alone stops capture. */
export function captureAllowed({ started, consent, hidden, blocked, gpc, honourGpc }) {
  if (!started || !consent || hidden || blocked) return false;
  return !(honourGpc && gpc);
}

/** A bounded queue of frames waiting to be sent: when full, the oldest frame goes (the newest is what the
 * recommender needs most). */
export class FrameQueue {
  constructor(limit = 4) {
    this.limit = limit;
    this.items = [];
    this.dropped = 0;
  }

  push(frame) {
    this.items.push(frame);
    while (this.items.length > this.limit) {
      this.items.shift();
      this.dropped += 1;
    }
  }

  shift() {
    return this.items.shift();
  }

  unshift(frame) { // a frame to retry goes back in front, unless newer ones filled the queue meanwhile
    if (this.items.length < this.limit) this.items.unshift(frame);
    else this.dropped += 1;
  }

  get length() {
    return this.items.length;
  }
}

const MAX_BACKOFF_MS = 30000;

/** Milliseconds to wait before retrying: the server's Retry-After (seconds) when it gave one, else
 * exponential backoff from 500 ms with jitter in [0.5, 1), capped at 30 s. */
export function retryDelayMs(attempt, retryAfter, random = Math.random) {
  const seconds = Number(retryAfter);
  if (retryAfter != null && retryAfter !== '' && Number.isFinite(seconds) && seconds >= 0) {
    return Math.min(seconds * 1000, MAX_BACKOFF_MS * 4);
  }
  const base = Math.min(500 * 2 ** attempt, MAX_BACKOFF_MS);
  return Math.round(base * (0.5 + random() / 2));
}

/** What to do with a gateway answer: 'sent' (done, incl. duplicate), 'retry' (keep it and back off),
 * 'token' (fetch a fresh token, then retry once), 'drop' (the frame itself is refused). */
export function outcome(status) {
  if (status >= 200 && status < 300) return 'sent';
  if (status === 401) return 'token';
  if (status === 429 || status === 503 || status === 502 || status === 504 || status === 0) return 'retry';
  return 'drop';
}

/** A difference hash of a small grayscale thumbnail (width x height luminance values, row-major, width
 * = cols + 1): one bit per horizontal neighbour pair. Same bits = the frame did not change. */
export function dHash(gray, cols, rows) {
  const bits = new Uint8Array(cols * rows);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      const i = y * (cols + 1) + x;
      bits[y * cols + x] = gray[i] > gray[i + 1] ? 1 : 0;
    }
  }
  return bits;
}

export function hamming(a, b) {
  if (!a || !b || a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] !== b[i] ? 1 : 0;
  return d;
}

/** Luminance of RGBA pixel data (a canvas' ImageData.data), as the hash wants it. */
export function luminance(rgba) {
  const out = new Float32Array(rgba.length / 4);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j++) {
    out[j] = 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2];
  }
  return out;
}
