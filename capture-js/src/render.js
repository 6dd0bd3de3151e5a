// Viewport -> JPEG in the page. The DOM renderer (modern-screenshot: SVG foreignObject, chosen by the
// measurement in the README) draws a clone of the page; personal data is removed from that clone and then
// painted over with solid boxes at the live page's positions, so neither the pixels nor the clone hold it.
import { domToCanvas } from 'modern-screenshot';
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

/** {canvas, hash} of the visible viewport, masked. `scale` < 1 renders fewer pixels (cheaper). */
export async function renderViewport(doc, { selector = DEFAULT_MASK_SELECTOR, scale = 1, timeoutMs = 5000,
  embedFonts = true } = {}) {
  const win = doc.defaultView;
  const w = win.innerWidth;
  const h = win.innerHeight;
  const x = win.scrollX;
  const y = win.scrollY;
  const rects = maskRects(doc, selector);
  const canvas = await domToCanvas(doc.documentElement, {
    width: w,
    height: h,
    scale,
    backgroundColor: '#ffffff',
    timeout: timeoutMs,
    // The clone is laid out from the page's top: shift it so the visible part lands in the frame.
    style: { transform: `translate(${-x}px, ${-y}px)`, transformOrigin: '0 0' },
    fetch: { placeholderImage: MISSING_IMAGE, requestInit: { mode: 'cors', credentials: 'omit' } },
    onCloneNode: (clone) => scrubClone(clone, selector),
    ...(embedFonts ? {} : { font: false }),
  });
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = MASK_FILL;
  for (const r of rects) ctx.fillRect(r.left * scale, r.top * scale, r.width * scale, r.height * scale);
  return { canvas, hash: hashCanvas(canvas) };
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
