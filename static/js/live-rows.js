/* live-rows: an htmx extension that keeps the live console truthful.
 *
 * The worker's fragments (invocations/fragments.py) may arrive late, twice,
 * out of order, merged with others, or not at all (a page opened or a socket
 * reconnected mid-run). Three rules make that harmless (docs/architecture.md,
 * "Live console"):
 *
 * 1. A row rides in <template class="live-row"> (its content parses on its
 *    own, wherever it sits in a message) and is upserted: replaced where the
 *    page shows it, else inserted where its created time puts it, in every
 *    <tbody data-live-rows> whose filter (data-live-status) it matches; a
 *    row that stops matching leaves. Only a first page (data-live-new="1")
 *    takes new rows. The list's empty state ([data-live-empty]) follows.
 * 2. Nothing moves backwards: an element that is final (data-final="1") is
 *    never replaced by one that is not, and one of an attempt is never
 *    replaced by an earlier state (progress(); rows here, status/outcome/log
 *    swaps through htmx:oobBeforeSwap). A row queued again for a retry
 *    does replace the running row of the attempt before it.
 * 3. Over the websocket, out-of-band pieces aimed at elements this page does
 *    not show are dropped quietly (the groups serve several pages).
 *
 * Catching up is declarative: elements with hx-trigger="htmx:wsOpen from:body"
 * fetch the server's view whenever the socket (re)opens.
 */
(function () {
  "use strict";

  // How far an element's invocation has got: Infinity when final; else
  // from its attempt count (Invocation.attempts, raised when a worker claims
  // it): queued before attempt n+1 is 2n, running attempt n is 2n-1. So a
  // row queued again for a retry (or put back to wait for a slot) replaces
  // the running row of the attempt before it, and a late "running" of an
  // earlier attempt never replaces it. null: the element makes no claim.
  function progress(el) {
    if (!el || !el.getAttribute) return null;
    if (el.getAttribute("data-final") === "1") return Infinity;
    const status = el.getAttribute("data-status");
    const attempt = parseInt(el.getAttribute("data-attempt") || "", 10);
    const n = isNaN(attempt) ? (status === "running" ? 1 : 0) : attempt;
    if (status === "running") return 2 * n - 1;
    if (status === "queued") return 2 * n;
    return null;
  }

  function backwards(current, incoming) {
    const was = progress(current);
    if (was === null) return false;
    const now = progress(incoming);
    if (was === Infinity) return now !== Infinity;
    return now !== null && now < was;
  }

  function created(row) {
    return parseFloat(row.getAttribute("data-created") || "0");
  }

  function matches(tbody, row) {
    const want = tbody.getAttribute("data-live-status") || "";
    return !want || row.getAttribute("data-status") === want;
  }

  function showEmpty(tbody) {
    const box = tbody.closest("[data-live-table]") || tbody.parentElement;
    const none = !tbody.querySelector("tr[id]");
    box.querySelectorAll("[data-live-empty]").forEach(function (el) { el.hidden = !none; });
  }

  function place(tbody, fresh) {
    const at = created(fresh);
    const rows = Array.from(tbody.querySelectorAll(":scope > tr[id]"));
    const next = rows.find(function (r) { return created(r) < at; });
    // The oldest goes last: a first page that grew live shows every row
    // it took, however late one's start or finish came.
    if (next) tbody.insertBefore(fresh, next);
    else tbody.appendChild(fresh);
  }

  function upsert(row) {
    document.querySelectorAll("tbody[data-live-rows]").forEach(function (tbody) {
      const fresh = row.cloneNode(true);
      const old = tbody.querySelector(":scope > #" + CSS.escape(row.id));
      if (old) {
        if (backwards(old, fresh)) return; // a late start never undoes a finish
        if (matches(tbody, fresh)) old.replaceWith(fresh);
        else old.remove();
      } else if (tbody.getAttribute("data-live-new") === "1" && matches(tbody, fresh)) {
        place(tbody, fresh);
      } else {
        return;
      }
      if (fresh.isConnected) htmx.process(fresh);
      showEmpty(tbody);
    });
  }

  function targetOf(el) {
    const oob = el.getAttribute("hx-swap-oob");
    if (oob === null) return null;
    const colon = oob.indexOf(":");
    if (colon > 0) return oob.slice(colon + 1);
    return el.id ? "#" + CSS.escape(el.id) : null;
  }

  function shown(selector) {
    try {
      return document.querySelector(selector) !== null;
    } catch (e) {
      return true; // htmx's extended selectors: let htmx decide
    }
  }

  // For hx-trigger filters: whether `selector` holds anything not final yet.
  // The catch-up polls while it does, slowly: a message lost on its way
  // (the channel layer drops over capacity) cannot leave a row running.
  window.liveUnsettled = function (selector) {
    const box = document.querySelector(selector);
    return !!box && !!box.querySelector('[data-final="0"]');
  };

  htmx.defineExtension("live-rows", {
    transformResponse: function (text, xhr) {
      const fromSocket = !xhr;
      if (text.indexOf('class="live-row"') < 0 && !fromSocket) return text;
      const tpl = document.createElement("template");
      tpl.innerHTML = text;
      let changed = false;
      Array.from(tpl.content.children).forEach(function (el) {
        if (el.matches("template.live-row")) {
          el.content.querySelectorAll("tr[id]").forEach(upsert);
          el.remove();
          changed = true;
        } else if (fromSocket) {
          const selector = targetOf(el);
          if (selector && !shown(selector)) {
            el.remove();
            changed = true;
          }
        }
      });
      return changed ? tpl.innerHTML : text;
    },
  });

  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    const detail = evt.detail;
    const fragment = detail.fragment;
    const incoming = fragment && (fragment.nodeType === 11 ? fragment.firstElementChild : fragment);
    if (backwards(detail.target, incoming)) detail.shouldSwap = false;
  });
})();
