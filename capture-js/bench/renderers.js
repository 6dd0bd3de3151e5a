// Benchmark-only bundle (not shipped): the same viewport rendered by each candidate DOM renderer, so
// services/eval/bench_page_render.py can time them interleaved on the same pages.
import { toCanvas } from 'html-to-image';
import { domToCanvas } from 'modern-screenshot';
import { maskRects, scrubClone, toJpeg, ViewportRenderer } from '../src/render.js';

function paintMasks(canvas, rects) {
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#6b7280';
  for (const r of rects) ctx.fillRect(r.left, r.top, r.width, r.height);
  return canvas;
}

const viewportStyle = (win) => ({ transform: `translate(${-win.scrollX}px, ${-win.scrollY}px)`, transformOrigin: '0 0' });

async function htmlToImage(doc) {
  const win = doc.defaultView;
  const rects = maskRects(doc);
  const canvas = await toCanvas(doc.documentElement, {
    width: win.innerWidth, height: win.innerHeight, pixelRatio: 1, backgroundColor: '#ffffff',
    style: viewportStyle(win),
  });
  return paintMasks(canvas, rects);
}

/** The renderer as shipped before: a fresh modern-screenshot context per frame, the whole page cloned. */
async function freshContextWholePage(doc) {
  const win = doc.defaultView;
  const rects = maskRects(doc);
  const canvas = await domToCanvas(doc.documentElement, {
    width: win.innerWidth, height: win.innerHeight, scale: 1, backgroundColor: '#ffffff', timeout: 5000,
    style: viewportStyle(win),
    fetch: { requestInit: { mode: 'cors', credentials: 'omit' } },
    onCloneNode: (clone) => scrubClone(clone),
  });
  return paintMasks(canvas, rects);
}

const reused = new ViewportRenderer(document, { clipToViewport: false });
const shipped = new ViewportRenderer(document);

const RENDERERS = {
  'modern-screenshot, fresh context, whole page (before)': freshContextWholePage,
  'modern-screenshot, reused context, whole page': async () => (await reused.render()).canvas,
  'modern-screenshot, reused context, viewport clip (shipped)': async () => (await shipped.render()).canvas,
  'html-to-image': htmlToImage,
};

const longTasks = [];
new PerformanceObserver((list) => longTasks.push(...list.getEntries())).observe({ type: 'longtask', buffered: true });

/** {wallMs, longTaskMs, maxTaskMs, bytes, dataUrl} for one frame by one renderer, JPEG quality 0.7 as shipped. */
window.benchRender = async (name) => {
  const t0 = performance.now();
  const canvas = await RENDERERS[name](document);
  const blob = await toJpeg(canvas, 0.7);
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 50)); // let the observer deliver the last long task
  const tasks = longTasks.filter((e) => e.startTime >= t0 && e.startTime < t1);
  const longTaskMs = tasks.reduce((sum, e) => sum + e.duration, 0);
  const maxTaskMs = tasks.reduce((m, e) => Math.max(m, e.duration), 0);
  const dataUrl = await new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
  return { wallMs: t1 - t0, longTaskMs, maxTaskMs, bytes: blob.size, dataUrl };
};
