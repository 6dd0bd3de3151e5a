// "Recommended for you": listens to the storefront API's SSE stream for this visitor's session, and
// reports impressions and clicks. The shop's backend mints a short-lived session token (/panel-token), so
// no API key ever reaches the browser; when the token expires or the storefront restarts, a new one is
// fetched. Fails quietly: if the storefront is down the placeholder text stays and we retry later.
(function () {
  "use strict";
  var body = document.body;
  var sid = body.dataset.session;
  var base = (body.dataset.storefront || "").replace(/\/+$/, "");
  var list = document.getElementById("rec-items");
  var status = document.getElementById("rec-status");
  var why = document.getElementById("rec-why");
  var lastSeq = -1;
  var token = null;
  var reported = {};  // window_seq -> true once its impressions were sent
  if (!sid || !base || !window.EventSource || !window.fetch || !list) return;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function sendFeedback(events) {
    if (!token || !events.length) return;
    fetch(base + "/v1/sessions/" + encodeURIComponent(sid) + "/feedback/batch", {
      method: "POST", keepalive: true, mode: "cors",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
      body: JSON.stringify({events: events})
    }).catch(function () { /* feedback is best effort */ });
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
      a.dataset.windowSeq = String(rec.window_seq);
      if (item.reason && item.reason.text) a.title = item.reason.text;
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
    if (items.length && !reported[rec.window_seq]) {
      reported[rec.window_seq] = true;
      sendFeedback(items.map(function (item) {
        return {product_id: item.product_id, event: "impression", window_seq: rec.window_seq};
      }));
    }
  }

  list.addEventListener("click", function (ev) {
    var card = ev.target.closest ? ev.target.closest("a.rec-card") : null;
    if (!card) return;
    // keepalive: the request outlives the navigation the click starts
    sendFeedback([{product_id: card.dataset.productId, event: "click", window_seq: Number(card.dataset.windowSeq)}]);
  });

  function connect() {
    fetch("/panel-token", {credentials: "same-origin"}).then(function (resp) {
      if (!resp.ok) throw new Error("no token");
      return resp.json();
    }).then(function (minted) {
      token = minted.token;
      var url = base + "/v1/sessions/" + encodeURIComponent(sid) + "/stream?token=" + encodeURIComponent(token);
      var es = new EventSource(url);
      es.addEventListener("recommendation", function (ev) {
        try { render(JSON.parse(ev.data)); } catch (e) { /* a malformed event must not break the page */ }
      });
      es.onerror = function () {
        // EventSource retries by itself (resuming with Last-Event-ID) unless the server refused the request,
        // e.g. an expired token: then fetch a new token and reconnect.
        if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
      };
    }).catch(function () { setTimeout(connect, 5000); });
  }
  connect();
})();
