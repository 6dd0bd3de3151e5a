// Viewport -> JPEG in the page. The DOM renderer (modern-screenshot: SVG foreignObject, chosen by the
// measurement in the README) draws a clone of the page; personal data is removed from that clone and then
// painted over with solid boxes at the live page's positions, so neither the pixels nor the clone hold it.
import { createContext, destroyContext, domToCanvas } from 'modern-screenshot';
import { DEFAULT_MASK_SELECTOR, isFormField, personalRanges } from './masking.js';
import { dHash, luminance } from './client.js';

const MASK_FILL = '#6b7280';
const HASH_COLS = 16;
const HASH_ROWS = 16;
// Shown where a cross-origin image could not be fetched (its CDN sends no Access-Control-Allow-Origin).
const MISSING_IMAGE = 'data:image/svg+xml,' + encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#d1d5db"/></svg>');

function maskedElements(root, selector) {
  return root.querySelectorAll(`input, textarea, select, ${selector}`);
}

const BOX_STYLE = `color: transparent !important; -webkit-text-fill-color: transparent !important;
  text-shadow: none !important; background: ${MASK_FILL} !important;`;

/** Personal-looking parts of a text node become solid boxes of the same size (the text is kept but
 * transparent, so the layout, and the live page's boxes painted on top, stay where they are). */
function boxText(node, ranges) {
  const doc = node.ownerDocument;
  const text = node.nodeValue;
  const parts = doc.createDocumentFragment();
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) parts.append(doc.createTextNode(text.slice(at, start)));
    const span = doc.createElement('span');
    span.setAttribute('style', BOX_STYLE);
    span.textContent = text.slice(start, end);
    parts.append(span);
    at = end;
  }
  if (at < text.length) parts.append(doc.createTextNode(text.slice(at)));
  node.replaceWith(parts);
}

/** The clone the renderer draws: form values emptied, masked elements invisible (their boxes keep the
 * layout), personal-looking text drawn as boxes. */
export function scrubClone(clone, selector = DEFAULT_MASK_SELECTOR) {
  if (!(clone instanceof Element)) return;
  for (const el of maskedElements(clone, selector)) {
    if (isFormField(el.tagName)) {
      if ('value' in el) el.value = '';
      el.removeAttribute('value');
      el.removeAttribute('placeholder');
      if (el.tagName === 'TEXTAREA') el.textContent = '';
    }
    for (const node of [el, ...el.querySelectorAll('*')]) node.style.setProperty('visibility', 'hidden', 'important');
  }
  const walker = clone.ownerDocument.createTreeWalker(clone, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const ranges = personalRanges(node.nodeValue);
    if (ranges.length) found.push([node, ranges]);
  }
  for (const [node, ranges] of found) boxText(node, ranges);
}

function visible(rect, w, h) {
  return rect.width > 0 && rect.height > 0 && rect.right > 0 && rect.bottom > 0 && rect.left < w && rect.top < h;
}

/** Viewport rectangles to paint over, from the live page: form fields, masked elements, personal text. */
export function maskRects(doc, selector = DEFAULT_MASK_SELECTOR) {
  const w = doc.defaultView.innerWidth;
  const h = doc.defaultView.innerHeight;
  const rects = [];
  for (const el of maskedElements(doc, selector)) {
    if (el.type === 'hidden') continue;
    const r = el.getBoundingClientRect();
    if (visible(r, w, h)) rects.push(r);
  }
  const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
  const range = doc.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const [start, end] of personalRanges(node.nodeValue)) {
      range.setStart(node, start);
      range.setEnd(node, end);
      for (const r of range.getClientRects()) if (visible(r, w, h)) rects.push(r);
    }
  }
  return rects;
}

// Grid of points probed with elementsFromPoint: whatever is drawn at one of them (and its ancestors) is kept
// in the clone even when its own box lies below the viewport (e.g. a fixed banner inside the footer).
const PROBE_COLS = 16;
const PROBE_ROWS = 10;

/** Elements (with their ancestors) painted somewhere in the viewport, sampled on a grid. */
export function paintedElements(doc) {
  const w = doc.defaultView.innerWidth;
  const h = doc.defaultView.innerHeight;
  const keep = new Set();
  for (let i = 0; i < PROBE_COLS; i++) {
    for (let j = 0; j < PROBE_ROWS; j++) {
      for (let el of doc.elementsFromPoint(((i + 0.5) * w) / PROBE_COLS, ((j + 0.5) * h) / PROBE_ROWS)) {
        while (el && !keep.has(el)) {
          keep.add(el);
          el = el.parentElement;
        }
      }
    }
  }
  return keep;
}

const BLOCK_FLOW = new Set(['block', 'flow-root', 'list-item']);
const START = new Set(['normal', 'start', 'flex-start', 'stretch', 'left']);

/** Whether, in a container with this computed style, leaving out trailing children cannot move the earlier
 * ones: block flow, and flex or grid containers packing from the start. Not tables (a row's cells size
 * every column), reversed or centred flex, or `display: contents` (its children belong to the grandparent). */
export function trailingChildrenDroppable(style) {
  if (BLOCK_FLOW.has(style.display)) return true;
  if (!/^(inline-)?(flex|grid)$/.test(style.display)) return false;
  if (/reverse/.test(`${style.flexDirection} ${style.flexWrap}`)) return false;
  if (/dense/.test(style.gridAutoFlow || '')) return false;
  return START.has(style.justifyContent) && START.has(style.alignContent);
}

/** Whether the clone may leave out a live node: an element whose box starts below the viewport, is not
 * painted inside it, and sits in a container where dropping it moves nothing above it. Later content then
 * does not change the visible part, while the cloning (the renderer's main-thread cost, per node) skips the
 * rest of a long page. `parentStyle(el)` gives a parent's computed style (cached per frame). */
export function offscreen(node, viewportHeight, painted, parentStyle) {
  if (node.nodeType !== 1 || painted.has(node)) return false;
  const r = node.getBoundingClientRect();
  if (!(r.height > 0 && r.top >= viewportHeight)) return false;
  const parent = node.parentElement;
  return !parent || trailingChildrenDroppable(parentStyle(parent));
}

// A context is reused across frames (fonts, images and the browser's default styles are fetched or computed
// once) and started afresh after this many frames, so what it caches stays bounded on a long SPA session.
const CONTEXT_FRAMES = 30;

/** Renders the visible viewport, masked, frame after frame with one modern-screenshot context.
 * `scale` < 1 renders fewer pixels (cheaper). */
export class ViewportRenderer {
  constructor(doc, { selector = DEFAULT_MASK_SELECTOR, scale = 1, timeoutMs = 5000, embedFonts = true,
    clipToViewport = true } = {}) {
    Object.assign(this, { doc, selector, scale, timeoutMs, embedFonts, clipToViewport });
    this.context = null;
    this.frames = 0;
    this.size = '';
    this.painted = new Set();
    this.styles = new Map();
    this.parentStyle = (el) => {
      let style = this.styles.get(el);
      if (!style) this.styles.set(el, (style = this.doc.defaultView.getComputedStyle(el)));
      return style;
    };
  }

  async contextFor(w, h) {
    const size = `${w}x${h}`;
    if (this.context && (this.size !== size || this.frames >= CONTEXT_FRAMES)) this.destroy();
    if (!this.context) {
      this.context = await createContext(this.doc.documentElement, {
        width: w,
        height: h,
        scale: this.scale,
        backgroundColor: '#ffffff',
        timeout: this.timeoutMs,
        fetch: { placeholderImage: MISSING_IMAGE, requestInit: { mode: 'cors', credentials: 'omit' } },
        onCloneNode: (clone) => scrubClone(clone, this.selector),
        filter: this.clipToViewport ? (node) => !offscreen(node, h, this.painted, this.parentStyle) : null,
        ...(this.embedFonts ? {} : { font: false }),
      });
      this.size = size;
      this.frames = 0;
    }
    this.frames += 1;
    return this.context;
  }

  /** {canvas, hash} of the visible viewport, masked. */
  async render() {
    const win = this.doc.defaultView;
    const w = win.innerWidth;
    const h = win.innerHeight;
    const rects = maskRects(this.doc, this.selector);
    const context = await this.contextFor(w, h);
    // The clone is laid out from the page's top: shift it so the visible part lands in the frame.
    context.style = { transform: `translate(${-win.scrollX}px, ${-win.scrollY}px)`, transformOrigin: '0 0' };
    this.painted = this.clipToViewport ? paintedElements(this.doc) : new Set();
    let canvas;
    try {
      canvas = await domToCanvas(context);
    } finally {
      this.painted = new Set();
      this.styles.clear();
    }
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = MASK_FILL;
    const s = this.scale;
    for (const r of rects) ctx.fillRect(r.left * s, r.top * s, r.width * s, r.height * s);
    return { canvas, hash: hashCanvas(canvas) };
  }

  destroy() {
    if (this.context) destroyContext(this.context);
    this.context = null;
  }
}

export function hashCanvas(canvas) {
  const thumb = canvas.ownerDocument.createElement('canvas');
  thumb.width = HASH_COLS + 1;
  thumb.height = HASH_ROWS;
  const ctx = thumb.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(canvas, 0, 0, thumb.width, thumb.height);
  return dHash(luminance(ctx.getImageData(0, 0, thumb.width, thumb.height).data), HASH_COLS, HASH_ROWS);
}

export function toJpeg(canvas, quality) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('JPEG encoding failed'))), 'image/jpeg', quality);
  });
}
