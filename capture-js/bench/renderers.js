// Benchmark-only bundle (not shipped): the same viewport rendered by each candidate DOM renderer, so
// services/eval/bench_page_render.py can time them interleaved on the same pages.
import { toCanvas } from 'html-to-image';
import { maskRects, renderViewport, toJpeg } from '../src/render.js';

async function htmlToImage(doc) {
  const win = doc.defaultView;
  const rects = maskRects(doc);
  const canvas = await toCanvas(doc.documentElement, {
    width: win.innerWidth,
    height: win.innerHeight,
    pixelRatio: 1,
    backgroundColor: '#ffffff',
    style: { transform: `translate(${-win.scrollX}px, ${-win.scrollY}px)`, transformOrigin: '0 0' },
  });
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#6b7280';
  for (const r of rects) ctx.fillRect(r.left, r.top, r.width, r.height);
  return canvas;
}

const RENDERERS = {
  'modern-screenshot': async (doc) => (await renderViewport(doc)).canvas,
  'html-to-image': htmlToImage,
  'modern-screenshot, no font embedding': async (doc) => (await renderViewport(doc, { embedFonts: false })).canvas,
};

const longTasks = [];
new PerformanceObserver((list) => longTasks.push(...list.getEntries())).observe({ type: 'longtask', buffered: true });

/** {wallMs, longTaskMs, bytes, dataUrl} for one frame by one renderer, JPEG quality 0.7 as shipped. */
window.benchRender = async (name) => {
  const t0 = performance.now();
  const canvas = await RENDERERS[name](document);
  const blob = await toJpeg(canvas, 0.7);
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 50)); // let the observer deliver the last long task
  const longTaskMs = longTasks.filter((e) => e.startTime >= t0 && e.startTime < t1)
    .reduce((sum, e) => sum + e.duration, 0);
  const dataUrl = await new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
  return { wallMs: t1 - t0, longTaskMs, bytes: blob.size, dataUrl };
};
