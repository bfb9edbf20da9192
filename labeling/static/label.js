// Keyboard-first labelling: every choice has a key, a choice is saved at once, n/p move on.
// The server refuses anything without the page's CSRF token; this script is the only sender.
// Every save carries the version of the answer it was made on; when another tab saved first the
// server refuses (409) and the page shows both answers for the rater to choose. Saves go out one
// at a time, so a quick second key never races the first; a choice shows at once (a sub-cause
// key works right after the cause key). A save that fails keeps the choice on screen, marked
// unsaved, with the reason and a retry button.
// Moving to the next/previous issue swaps the page body for a copy fetched and parsed in advance,
// so the next issue appears without a page load; links and reloads still work as plain pages.
// The next issue is fetched as soon as the page is idle, the previous one a second after it is in.
(function () {
  "use strict";
  const FIELDS = ["location", "symptom", "cause", "subcause", "note"];
  const prefetched = new Map(); // url -> Promise of the page, already parsed (off the keypress)
  const PREVIOUS_AFTER_MS = 1000;
  let previousTimer = null;
  let page = null; // what belongs to the issue on screen
  let queue = Promise.resolve(); // saves, one after the other

  function fetchPage(url) {
    return fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => new DOMParser().parseFromString(html, "text/html"));
  }

  function prefetch(url) {
    if (!url || prefetched.has(url)) return;
    const promise = fetchPage(url);
    promise.catch(() => prefetched.delete(url));
    prefetched.set(url, promise);
  }

  function refreshPrefetch() {
    prefetched.clear();
    clearTimeout(previousTimer);
    prefetch(document.body.dataset.next);
    // the previous issue only once the next is in and the rater is still here: a rater moving on
    // quickly never goes back, and its fetch and parse would slow the page that comes next
    const body = document.body;
    const next = prefetched.get(body.dataset.next) || Promise.resolve();
    next.catch(() => null).then(() => {
      if (document.body !== body) return; // the rater has moved on
      clearTimeout(previousTimer);
      previousTimer = setTimeout(() => {
        if (document.body === body) prefetch(body.dataset.previous);
      }, PREVIOUS_AFTER_MS);
    });
  }

  async function navigate(url, push) {
    if (!url || !page) return;
    if (page.failed && page.pending && !page.leaving) {
      page.leaving = true;
      setStatus("error", "a choice on this page is not saved: retry, or press the key again to leave without it");
      return;
    }
    const started = performance.now();
    const ready = prefetched.get(url);
    prefetched.delete(url); // a parsed page goes on screen once: its body moves into this document
    let doc;
    try {
      doc = await (ready || fetchPage(url));
    } catch (error) {
      window.location.href = url;
      return;
    }
    if (!doc.body.dataset.saveUrl) {
      window.location.href = url;
      return;
    }
    document.title = doc.title;
    document.body.replaceWith(doc.body); // scripts of a parsed document never run
    if (push) history.pushState({}, "", url);
    window.scrollTo(0, 0);
    init();
    performance.measure("label:navigate", { start: started }); // visible in the browser's tools
    // and once the browser has laid out and painted the new issue (a task after the next frame)
    requestAnimationFrame(() => setTimeout(() => performance.measure("label:shown", { start: started })));
  }

  function setStatus(state, text) {
    page.status.dataset.state = state;
    page.status.textContent = text;
  }

  function showDefinition(dim, text) {
    const node = document.querySelector('[data-definition-for="' + dim + '"]');
    if (node) node.textContent = text || "";
  }

  function selectedDefinition(dim) {
    const button = page.buttons.find((b) => b.dataset.dim === dim && b.getAttribute("aria-pressed") === "true");
    return button ? button.title : "";
  }

  function shown() {
    // what the rater sees: the saved answer with the choices not yet saved laid over it
    return Object.assign({}, page.label, page.pending || {});
  }

  function settle(changes) {
    // a save went through: its choices are no longer pending (unless changed again since)
    if (!page.pending) return;
    Object.keys(changes).forEach((field) => {
      if (page.pending[field] === changes[field]) delete page.pending[field];
    });
    if (!Object.keys(page.pending).length) page.pending = null;
  }

  function render() {
    const label = shown();
    const cause = label.cause || "";
    let anySub = false;
    page.subcauseSet.querySelectorAll(".subgroup").forEach((group) => {
      const on = group.dataset.parent === cause;
      group.hidden = !on;
      anySub = anySub || on;
    });
    page.subcauseSet.hidden = !anySub;
    page.buttons.forEach((b) => {
      const dim = b.dataset.dim;
      let pressed = (label[dim] || "") === b.dataset.value;
      if (dim === "subcause") pressed = pressed && b.dataset.parent === cause;
      b.setAttribute("aria-pressed", pressed ? "true" : "false");
      b.classList.toggle("unsaved", Boolean(pressed && page.failed && page.pending && dim in page.pending));
    });
    ["location", "symptom", "cause", "subcause"].forEach((dim) => showDefinition(dim, selectedDefinition(dim)));
    if (document.activeElement !== page.note) page.note.value = label.note || "";
    page.retry.hidden = !(page.failed && page.pending);
  }

  function secondsOnIssue() {
    const visible = document.visibilityState === "visible" ? performance.now() - page.visibleSince : 0;
    return Math.round((page.activeMs + visible) / 100) / 10;
  }

  function addHistory(before, after, undo) {
    const list = document.getElementById("history-list");
    if (!list) return;
    const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    FIELDS.forEach((field) => {
      if ((before[field] || "") === (after[field] || "")) return;
      const item = document.createElement("li");
      item.textContent = at + " · " + document.body.dataset.rater + " · " + field + ": " + (before[field] || "—") +
        " → " + (after[field] || "—") + (undo ? " (undo)" : "") + " · " + secondsOnIssue() + " s on the issue";
      list.prepend(item);
    });
  }

  function showConflict(conflict, mine) {
    const rows = document.getElementById("conflict-rows");
    rows.textContent = "";
    FIELDS.forEach((field) => {
      const theirs = conflict.theirs[field] || "";
      const here = mine[field] || "";
      if (!theirs && !here) return;
      const tr = document.createElement("tr");
      if (theirs !== here) tr.className = "differs";
      [field, theirs || "—", here || "—"].forEach((text, i) => {
        const cell = document.createElement(i === 0 ? "th" : "td");
        cell.textContent = text;
        tr.append(cell);
      });
      rows.append(tr);
    });
    page.conflict = { theirs: conflict.theirs, version: conflict.version, mine };
    page.conflictBox.hidden = false;
    setStatus("error", "not saved: this issue was changed in another tab or window; choose below");
    document.getElementById("keep-mine").focus();
  }

  function resolveConflict(keepMine) {
    const conflict = page.conflict;
    page.conflict = null;
    page.conflictBox.hidden = true;
    page.label = Object.assign({}, conflict.theirs);
    page.version = conflict.version;
    page.pending = null;
    page.failed = false;
    if (!keepMine) {
      render();
      setStatus("saved", "kept the answer saved elsewhere");
      return;
    }
    const changes = {};
    FIELDS.forEach((field) => {
      if ((conflict.mine[field] || "") !== (conflict.theirs[field] || "")) changes[field] = conflict.mine[field] || "";
    });
    save(changes, false);
  }

  async function send(current, changes, undo) {
    const body = document.body;
    const started = performance.now();
    setStatus("saving", "saving…");
    let response;
    try {
      response = await fetch(body.dataset.saveUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": body.dataset.csrf },
        body: JSON.stringify({
          repository: body.dataset.repository,
          number: Number(body.dataset.number),
          changes,
          base: current.version,
          seconds: secondsOnIssue(),
          undo,
        }),
      });
    } catch (error) {
      if (current === page) failed(changes, "not saved: the server does not answer (" + error + ")");
      return;
    }
    const data = await response.json().catch(() => ({ error: "not saved: unreadable answer (HTTP " + response.status + ")" }));
    if (current !== page) return; // the rater moved on; the save itself went through
    if (response.status === 409 && data.conflict) {
      page.pending = null;
      page.failed = false;
      showConflict(data.conflict, Object.assign({}, page.label, changes));
      render();
      return;
    }
    if (!response.ok) {
      const reason = String(data.error || "HTTP " + response.status);
      failed(changes, reason.startsWith("not saved") ? reason : "not saved: " + reason);
      return;
    }
    const before = page.label;
    page.label = data.label;
    page.version = data.version;
    settle(changes);
    page.failed = page.failed && Boolean(page.pending); // an earlier failed choice still waits
    page.leaving = false;
    if (!undo) {
      const previous = {};
      FIELDS.forEach((field) => {
        if ((before[field] || "") !== (data.label[field] || "")) previous[field] = before[field] || "";
      });
      if (Object.keys(previous).length) page.undo.push(previous);
    }
    addHistory(before, data.label, undo);
    render();
    const progress = document.getElementById("progress");
    if (progress && data.progress) {
      progress.value = data.progress[0];
      document.getElementById("progress-text").textContent = data.progress[0] + " / " + data.progress[1] + " labelled";
    }
    const what = Object.keys(changes).join(", ");
    if (data.warning) setStatus("warning", data.warning);
    else setStatus("saved", (undo ? "undone: " : "saved ") + what + (data.complete ? " · issue complete" : ""));
    performance.measure("label:save", { start: started });
    refreshPrefetch();
  }

  function failed(changes, reason) {
    page.pending = Object.assign({}, changes, page.pending || {});
    page.failed = true;
    render();
    setStatus("error", reason + " · your choice is kept on this page");
  }

  function save(changes, undo) {
    const current = page;
    current.pending = Object.assign({}, current.pending || {}, changes);
    render();
    queue = queue.then(() => (current === page && !current.conflict ? send(current, changes, undo) : null));
    return queue;
  }

  function choose(button) {
    if (page.conflict) return;
    const pressed = button.getAttribute("aria-pressed") === "true";
    save({ [button.dataset.dim]: pressed ? "" : button.dataset.value }, false);
  }

  function undo() {
    const previous = page.undo.pop();
    if (!previous) {
      setStatus("idle", "nothing to undo on this page");
      return;
    }
    save(previous, true);
  }

  function init() {
    const dataNode = document.getElementById("label-data");
    if (!dataNode || !document.body.dataset.saveUrl) {
      page = null;
      return;
    }
    page = {
      label: JSON.parse(dataNode.textContent) || {},
      version: document.body.dataset.version || "",
      pending: null,
      failed: false,
      leaving: false,
      conflict: null,
      undo: [],
      status: document.getElementById("status"),
      retry: document.getElementById("retry"),
      conflictBox: document.getElementById("conflict"),
      note: document.getElementById("note"),
      buttons: Array.from(document.querySelectorAll("button.choice")),
      subcauseSet: document.querySelector('fieldset[data-dim="subcause"]'),
      noteTimer: null,
      activeMs: 0,
      visibleSince: performance.now(),
    };
    page.buttons.forEach((b) => {
      b.addEventListener("click", () => choose(b));
      b.addEventListener("mouseenter", () => showDefinition(b.dataset.dim, b.title));
      b.addEventListener("focus", () => showDefinition(b.dataset.dim, b.title));
      b.addEventListener("mouseleave", () => showDefinition(b.dataset.dim, selectedDefinition(b.dataset.dim)));
    });
    page.retry.addEventListener("click", () => {
      const pending = page.pending;
      if (pending) save(Object.assign({}, pending), false);
    });
    document.getElementById("keep-theirs").addEventListener("click", () => resolveConflict(false));
    document.getElementById("keep-mine").addEventListener("click", () => resolveConflict(true));
    const note = page.note;
    note.addEventListener("input", () => {
      clearTimeout(page.noteTimer);
      page.noteTimer = setTimeout(() => save({ note: note.value }, false), 800);
    });
    note.addEventListener("change", () => {
      clearTimeout(page.noteTimer);
      if (note.value !== (shown().note || "")) save({ note: note.value }, false);
    });
    document.querySelectorAll("#next, #previous").forEach((link) =>
      link.addEventListener("click", (event) => {
        event.preventDefault();
        navigate(link.getAttribute("href"), true);
      })
    );
    render();
    // fetch the neighbours once this page is on screen, not while the browser is still busy with it
    if (window.requestIdleCallback) requestIdleCallback(refreshPrefetch, { timeout: 300 });
    else setTimeout(refreshPrefetch, 50);
  }

  document.addEventListener("visibilitychange", () => {
    if (!page) return;
    if (document.visibilityState === "hidden") page.activeMs += performance.now() - page.visibleSince;
    else page.visibleSince = performance.now();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.tagName === "INPUT" || target.tagName === "TEXTAREA") {
      if (event.key === "Escape") target.blur();
      return;
    }
    const key = event.key;
    if (key === "/") {
      const search = document.getElementById("search");
      if (search) {
        event.preventDefault();
        search.focus();
      }
      return;
    }
    if (!page) return;
    if (key === "n" || key === "ArrowRight") return navigate(document.body.dataset.next, true);
    if (key === "p" || key === "ArrowLeft") return navigate(document.body.dataset.previous, true);
    if (key === "m") {
      event.preventDefault();
      page.note.focus();
      return;
    }
    if (key === "u") return undo();
    if (key === "o") {
      const link = document.getElementById("github-link");
      if (link) window.open(link.href, "_blank", "noopener,noreferrer");
      return;
    }
    if (key === "?") {
      const help = document.getElementById("help");
      help.open = !help.open;
      return;
    }
    const button = page.buttons.find((b) => b.dataset.key === key && !b.closest("[hidden]"));
    if (button) {
      event.preventDefault();
      choose(button);
    }
  });

  window.addEventListener("popstate", () => navigate(window.location.href, false));
  init();
})();
