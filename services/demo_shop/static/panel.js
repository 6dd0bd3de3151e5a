// "Recommended for you": listens to the storefront API's SSE stream for this visitor's session.
// Fails quietly: if the storefront is down, EventSource keeps retrying and the placeholder text stays.
(function () {
  "use strict";
  var body = document.body;
  var sid = body.dataset.session;
  var base = (body.dataset.storefront || "").replace(/\/+$/, "");
  var list = document.getElementById("rec-items");
  var status = document.getElementById("rec-status");
  var why = document.getElementById("rec-why");
  var lastSeq = -1;
  if (!sid || !base || !window.EventSource || !list) return;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function render(rec) {
    // at-least-once delivery upstream: never show an older window over a newer one
    if (typeof rec.window_seq === "number") {
      if (rec.window_seq < lastSeq) return;
      lastSeq = rec.window_seq;
    }
    var items = Array.isArray(rec.items) ? rec.items : [];
    list.textContent = "";
    items.forEach(function (item) {
      var li = el("li");
      var a = el("a", "rec-card");
      a.href = "/p/" + encodeURIComponent(item.product_id);
      a.dataset.productId = item.product_id;
      if (item.image_url) {
        var img = el("img");
        img.src = item.image_url;
        img.alt = "";
        a.appendChild(img);
      }
      var text = el("span", "rec-text");
      text.appendChild(el("span", "rec-title", item.title || ""));
      text.appendChild(el("span", "rec-brand", item.brand || ""));
      var price = Number(item.price);
      text.appendChild(el("span", "rec-price", isFinite(price) ? "$" + price.toFixed(2) : ""));
      a.appendChild(text);
      li.appendChild(a);
      list.appendChild(li);
    });
    status.hidden = items.length > 0;
    var narrative = rec.summary && rec.summary.narrative;
    why.textContent = narrative ? "Why: " + narrative : "";
    why.hidden = !narrative;
    body.dataset.recWindowSeq = String(lastSeq);
  }

  function connect() {
    var es;
    try {
      es = new EventSource(base + "/v1/sessions/" + encodeURIComponent(sid) + "/stream");
    } catch (e) {
      return;
    }
    es.addEventListener("recommendation", function (ev) {
      try { render(JSON.parse(ev.data)); } catch (e) { /* a malformed event must not break the page */ }
    });
    es.onerror = function () {
      // EventSource retries by itself unless the server answered with an error status (CLOSED): then retry later
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
    };
  }
  connect();
})();
