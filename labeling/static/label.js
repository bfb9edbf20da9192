// Keyboard-first labelling: every choice has a key, a choice is saved at once, n/p move on.
// The server refuses anything without the page's CSRF token; this script is the only sender.
// Moving to the next/previous issue swaps the page body for a copy fetched in advance, so the
// next issue appears without a page load; links and reloads still work as plain pages.
(function () {
  "use strict";
  const prefetched = new Map(); // url -> Promise of the page's HTML
  let page = null; // what belongs to the issue on screen

  function fetchPage(url) {
    return fetch(url, { credentials: "same-origin" }).then((r) => (r.ok ? r.text() : Promise.reject(r.status)));
  }

  function prefetch(url) {
    if (!url || prefetched.has(url)) return;
    const promise = fetchPage(url);
    promise.catch(() => prefetched.delete(url));
    prefetched.set(url, promise);
  }

  function refreshPrefetch() {
    prefetched.clear();
    prefetch(document.body.dataset.next);
    prefetch(document.body.dataset.previous);
  }

  async function navigate(url, push) {
    if (!url) return;
    const started = performance.now();
    let html;
    try {
      html = await (prefetched.get(url) || fetchPage(url));
    } catch (error) {
      window.location.href = url;
      return;
    }
    const doc = new DOMParser().parseFromString(html, "text/html");
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
    return button ? button.dataset.definition : "";
  }

  function render() {
    const label = page.label;
    const cause = label.cause || "";
    let anySub = false;
    page.subcauseSet.querySelectorAll(".subgroup").forEach((group) => {
      const on = group.dataset.parent === cause;
      group.hidden = !on;
      anySub = anySub || on;
    });
    page.subcauseSet.hidden = !anySub;
    page.buttons.forEach((b) => {
      let pressed = (label[b.dataset.dim] || "") === b.dataset.value;
      if (b.dataset.dim === "subcause") pressed = pressed && b.dataset.parent === cause;
      b.setAttribute("aria-pressed", pressed ? "true" : "false");
    });
    ["location", "symptom", "cause", "subcause"].forEach((dim) => showDefinition(dim, selectedDefinition(dim)));
    if (document.activeElement !== page.note) page.note.value = label.note || "";
  }

  async function save(field, value) {
    const body = document.body;
    const current = page;
    const started = performance.now();
    setStatus("saving", "saving…");
    let response;
    try {
      response = await fetch(body.dataset.saveUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": body.dataset.csrf },
        body: JSON.stringify({ repository: body.dataset.repository, number: Number(body.dataset.number), field, value }),
      });
    } catch (error) {
      if (current === page) setStatus("error", "not saved: the server does not answer (" + error + ")");
      return;
    }
    const data = await response.json().catch(() => ({ error: "unreadable answer" }));
    if (current !== page) return; // the rater moved on; the save itself went through
    if (!response.ok) {
      setStatus("error", "not saved: " + data.error);
      return;
    }
    page.label = data.label;
    render();
    const progress = document.getElementById("progress");
    if (progress && data.progress) {
      progress.value = data.progress[0];
      document.getElementById("progress-text").textContent = data.progress[0] + " / " + data.progress[1] + " labelled";
    }
    setStatus("saved", "saved " + field + (data.complete ? " · issue complete" : ""));
    performance.measure("label:save", { start: started });
    refreshPrefetch();
  }

  function choose(button) {
    const pressed = button.getAttribute("aria-pressed") === "true";
    save(button.dataset.dim, pressed ? "" : button.dataset.value);
  }

  function init() {
    const dataNode = document.getElementById("label-data");
    if (!dataNode || !document.body.dataset.saveUrl) {
      page = null;
      return;
    }
    page = {
      label: JSON.parse(dataNode.textContent) || {},
      status: document.getElementById("status"),
      note: document.getElementById("note"),
      buttons: Array.from(document.querySelectorAll("button.choice")),
      subcauseSet: document.querySelector('fieldset[data-dim="subcause"]'),
      noteTimer: null,
    };
    page.buttons.forEach((b) => {
      b.addEventListener("click", () => choose(b));
      b.addEventListener("mouseenter", () => showDefinition(b.dataset.dim, b.dataset.definition));
      b.addEventListener("focus", () => showDefinition(b.dataset.dim, b.dataset.definition));
      b.addEventListener("mouseleave", () => showDefinition(b.dataset.dim, selectedDefinition(b.dataset.dim)));
    });
    const note = page.note;
    note.addEventListener("input", () => {
      clearTimeout(page.noteTimer);
      page.noteTimer = setTimeout(() => save("note", note.value), 800);
    });
    note.addEventListener("change", () => {
      clearTimeout(page.noteTimer);
      if (note.value !== (page.label.note || "")) save("note", note.value);
    });
    document.querySelectorAll("#next, #previous").forEach((link) =>
      link.addEventListener("click", (event) => {
        event.preventDefault();
        navigate(link.getAttribute("href"), true);
      })
    );
    render();
    refreshPrefetch();
  }

  document.addEventListener("keydown", (event) => {
    if (!page || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target === page.note || target.tagName === "INPUT" || target.tagName === "TEXTAREA") {
      if (event.key === "Escape") target.blur();
      return;
    }
    const key = event.key;
    if (key === "n" || key === "ArrowRight") return navigate(document.body.dataset.next, true);
    if (key === "p" || key === "ArrowLeft") return navigate(document.body.dataset.previous, true);
    if (key === "m") {
      event.preventDefault();
      page.note.focus();
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
