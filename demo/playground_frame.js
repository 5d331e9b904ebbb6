// The playground's frame. Runs in the browser, once, on the frame's container (which outlives the
// pictures streamed into it). A press on the picture starts a stroke; moves add to it (drawn as a
// preview on a canvas over the picture); the release sends it as a "select" event whose index is the
// stroke in the picture's own pixels ([[x, y], ...]; one position for a click), whatever size the
// browser shows it at. demo/playground_tab.py passes this file as the frame's js_on_load
// (`element` and `trigger` are Gradio's).
let path = null, overlay = null;
const picture = () => element.querySelector('img');
const at = (e) => {
  const im = picture(), r = im.getBoundingClientRect();
  return [(e.clientX - r.left) * im.naturalWidth / r.width, (e.clientY - r.top) * im.naturalHeight / r.height];
};
const paint = () => {
  const im = picture();
  if (!im || !path) return;
  if (!overlay || !overlay.isConnected) {
    overlay = document.createElement('canvas');
    overlay.style.cssText = 'position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none';
    im.parentElement.appendChild(overlay);
  }
  overlay.width = im.naturalWidth;
  overlay.height = im.naturalHeight;
  const g = overlay.getContext('2d');
  g.strokeStyle = g.fillStyle = 'rgba(46, 160, 67, 0.85)';
  g.lineWidth = 5; g.lineCap = g.lineJoin = 'round';
  g.beginPath();
  if (path.length === 1) { g.arc(path[0][0], path[0][1], 7, 0, 2 * Math.PI); g.fill(); return; }
  path.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
  g.stroke();
};
element.addEventListener('dragstart', (e) => e.preventDefault());
element.addEventListener('pointerdown', (e) => {
  if (e.button !== 0 || e.target.tagName !== 'IMG') return;
  path = [at(e)];
  element.setPointerCapture(e.pointerId);
  e.preventDefault();
  paint();
});
element.addEventListener('pointermove', (e) => {
  if (!path) return;
  const p = at(e), q = path[path.length - 1];
  if (Math.hypot(p[0] - q[0], p[1] - q[1]) >= 2) { path.push(p); paint(); }
});
element.addEventListener('pointerup', () => {
  if (!path) return;
  const stroke = path.map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10]);
  path = null;
  const drawn = overlay;
  setTimeout(() => drawn && drawn.remove(), 800);
  trigger('select', {index: stroke, value: stroke.length, selected: true});
});
element.addEventListener('pointercancel', () => { path = null; if (overlay) overlay.remove(); });
