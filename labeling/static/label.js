// Keyboard-first labelling: every choice has a key, a choice is saved at once, n/p move on.
// The server refuses anything without the page's CSRF token; this script is the only sender.
(function () {
  "use strict";
  const body = document.body;
  const dataNode = document.getElementById("label-data");
  if (!dataNode || !body.dataset.saveUrl) return;
  let label = JSON.parse(dataNode.textContent) || {};
  const status = document.getElementById("status");
  const note = document.getElementById("note");
  const buttons = Array.from(document.querySelectorAll("button.choice"));
  const subcauseSet = document.querySelector('fieldset[data-dim="subcause"]');

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function visible(button) {
    return !button.closest("[hidden]");
  }

  function selectedValue(dim) {
    return label[dim] || "";
  }

  function showDefinition(dim, text) {
    const node = document.querySelector('[data-definition-for="' + dim + '"]');
    if (node) node.textContent = text || "";
  }

  function selectedDefinition(dim) {
    const button = buttons.find((b) => b.dataset.dim === dim && b.getAttribute("aria-pressed") === "true");
    return button ? button.dataset.definition : "";
  }

  function render() {
    const cause = selectedValue("cause");
    let anySub = false;
    subcauseSet.querySelectorAll(".subgroup").forEach((group) => {
      const on = group.dataset.parent === cause;
      group.hidden = !on;
      anySub = anySub || on;
    });
    subcauseSet.hidden = !anySub;
    buttons.forEach((b) => {
      let pressed = selectedValue(b.dataset.dim) === b.dataset.value;
      if (b.dataset.dim === "subcause") pressed = pressed && b.dataset.parent === cause;
      b.setAttribute("aria-pressed", pressed ? "true" : "false");
    });
    ["location", "symptom", "cause", "subcause"].forEach((dim) => showDefinition(dim, selectedDefinition(dim)));
    if (document.activeElement !== note) note.value = label.note || "";
  }

  async function save(field, value) {
    setStatus("saving", "saving…");
    let response;
    try {
      response = await fetch(body.dataset.saveUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": body.dataset.csrf },
        body: JSON.stringify({ repository: body.dataset.repository, number: Number(body.dataset.number), field, value }),
      });
    } catch (error) {
      setStatus("error", "not saved: the server does not answer (" + error + ")");
      return;
    }
    const data = await response.json().catch(() => ({ error: "unreadable answer" }));
    if (!response.ok) {
      setStatus("error", "not saved: " + data.error);
      return;
    }
    label = data.label;
    render();
    const progress = document.getElementById("progress");
    if (progress && data.progress) {
      progress.value = data.progress[0];
      document.getElementById("progress-text").textContent = data.progress[0] + " / " + data.progress[1] + " labelled";
    }
    setStatus("saved", "saved " + field + (data.complete ? " · issue complete" : ""));
  }

  function choose(button) {
    const dim = button.dataset.dim;
    const pressed = button.getAttribute("aria-pressed") === "true";
    save(dim, pressed ? "" : button.dataset.value);
  }

  buttons.forEach((b) => {
    b.addEventListener("click", () => choose(b));
    b.addEventListener("mouseenter", () => showDefinition(b.dataset.dim, b.dataset.definition));
    b.addEventListener("focus", () => showDefinition(b.dataset.dim, b.dataset.definition));
    b.addEventListener("mouseleave", () => showDefinition(b.dataset.dim, selectedDefinition(b.dataset.dim)));
  });

  let noteTimer = null;
  note.addEventListener("input", () => {
    clearTimeout(noteTimer);
    noteTimer = setTimeout(() => save("note", note.value), 800);
  });
  note.addEventListener("change", () => {
    clearTimeout(noteTimer);
    if (note.value !== (label.note || "")) save("note", note.value);
  });

  function go(url) {
    if (url) window.location.href = url;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target === note || target.tagName === "INPUT" || target.tagName === "TEXTAREA") {
      if (event.key === "Escape") target.blur();
      return;
    }
    const key = event.key;
    if (key === "n" || key === "ArrowRight") return go(body.dataset.next);
    if (key === "p" || key === "ArrowLeft") return go(body.dataset.previous);
    if (key === "m") {
      event.preventDefault();
      note.focus();
      return;
    }
    if (key === "?") {
      const help = document.getElementById("help");
      help.open = !help.open;
      return;
    }
    const button = buttons.find((b) => b.dataset.key === key && visible(b));
    if (button) {
      event.preventDefault();
      choose(button);
    }
  });

  render();
})();
