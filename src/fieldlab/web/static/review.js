// fieldlab review app: live progress, keyboard categorisation, and welfare (blur, exposure log, breaks).
// No library, no inline script (the Content-Security-Policy forbids it): everything is wired up here.
"use strict";

(function () {
  const HOVER_DELAY_MS = 300; // a pointer passing over a tile does not unblur it
  const POLL_MS = 2000;

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true, // an exposure ending as the page closes is still recorded
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {}),
    });
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try {
        const data = await response.json();
        if (data && data.detail) detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      } catch (ignored) { /* not JSON */ }
      throw new Error(detail);
    }
    return response.json();
  }

  function say(text) {
    const status = document.getElementById("status");
    if (status) status.textContent = text;
  }

  // ---- dashboard: progress while a scan runs ----

  function liveProgress() {
    const section = document.getElementById("progress");
    if (!section || section.dataset.live !== "1") return;
    const number = (n) => Number(n).toLocaleString("en-GB");
    async function tick() {
      try {
        const response = await fetch("/api/progress", { credentials: "same-origin" });
        if (response.ok) {
          const data = await response.json();
          for (const exhibit of data.exhibits) {
            const panel = section.querySelector('[data-exhibit="' + exhibit.id + '"]');
            if (!panel) { window.location.reload(); return; }
            for (const field of ["files", "files_read", "media", "media_decoded", "errors"]) {
              const cell = panel.querySelector('[data-field="' + field + '"]');
              if (cell) cell.textContent = number(exhibit[field]);
            }
            const percent = panel.querySelector('[data-field="percent"]');
            if (percent) percent.textContent = exhibit.percent;
            const status = panel.querySelector('[data-field="status"]');
            if (status) status.textContent = exhibit.status;
            const bar = panel.querySelector('[data-field="bar"]');
            if (bar) bar.value = exhibit.percent;
          }
          if (data.finished) { window.location.reload(); return; } // the counts and charts, final
        }
      } catch (ignored) { /* the server may be restarting: try again */ }
      window.setTimeout(tick, POLL_MS);
    }
    window.setTimeout(tick, POLL_MS);
  }

  // ---- welfare: what is unblurred, for how long, and breaks ----

  const shown = new Map(); // tile -> {start, how, exposureId}
  let paused = false;

  function picture(tile) {
    return tile ? tile.querySelector(".pic img") : null;
  }

  function reveal(tile, how) {
    const img = picture(tile);
    if (!tile || paused || shown.has(tile) || !img || !img.naturalWidth) return; // nothing shown: no look to log
    tile.classList.add("revealed");
    const exposureId = tile.dataset.exposure ? Number(tile.dataset.exposure) : null;
    delete tile.dataset.exposure; // an explicit reveal is one exposure; later looks are ordinary ones
    shown.set(tile, { start: performance.now(), how: exposureId ? "reveal" : how, exposureId: exposureId });
  }

  function conceal(tile) {
    const look = shown.get(tile);
    if (!look) return;
    shown.delete(tile);
    tile.classList.remove("revealed");
    const seconds = Math.max(0, (performance.now() - look.start) / 1000);
    const body = look.exposureId
      ? { exposure_id: look.exposureId, seconds: seconds }
      : { item_id: Number(tile.dataset.item), how: look.how, seconds: seconds };
    post("/api/exposure", body).then(breakIfDue).catch((error) => say("Exposure not recorded: " + error.message));
  }

  function concealAll() {
    for (const tile of Array.from(shown.keys())) conceal(tile);
  }

  function breakIfDue(state) {
    const overlay = document.getElementById("break");
    if (!overlay || !state || !state.break_due) return;
    concealAll();
    paused = true;
    document.body.classList.add("paused");
    const minutes = document.getElementById("break-minutes");
    if (minutes) minutes.textContent = Math.round(state.since_break / 60);
    overlay.hidden = false;
    const done = document.getElementById("break-done");
    if (done) done.focus();
  }

  function welfare() {
    if (document.body.dataset.welfare !== "1") return;
    const done = document.getElementById("break-done");
    if (done) {
      done.addEventListener("click", () => {
        post("/api/break", {}).then(() => {
          paused = false;
          document.body.classList.remove("paused");
          document.getElementById("break").hidden = true;
        }).catch((error) => say("Could not record the break: " + error.message));
      });
    }
    fetch("/api/break", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null)).then(breakIfDue).catch(() => {});
    window.addEventListener("pagehide", concealAll);
    document.addEventListener("visibilitychange", () => { if (document.hidden) concealAll(); });
  }

  // ---- gallery: focus, selection, categorisation, reveals ----

  function gallery() {
    const list = document.getElementById("tiles");
    if (!list) return;
    const keys = JSON.parse(list.dataset.keys || "{}");
    const canCategorise = list.dataset.canCategorise === "1";
    const canSee = list.dataset.canSee === "1";
    const tiles = () => Array.from(list.querySelectorAll("li.tile"));
    let focus = -1;
    let anchor = -1;
    let groupMode = false;
    const selected = new Set();

    function paint() {
      tiles().forEach((tile, i) => {
        tile.classList.toggle("focused", i === focus);
        tile.classList.toggle("selected", selected.has(i));
      });
    }

    function moveFocus(index, extend) {
      const all = tiles();
      if (!all.length) return;
      index = Math.max(0, Math.min(all.length - 1, index));
      const previous = all[focus];
      if (previous && index !== focus && shown.has(previous) && shown.get(previous).how !== "hover") conceal(previous);
      if (extend) {
        if (anchor < 0) anchor = focus < 0 ? index : focus;
        selected.clear();
        for (let i = Math.min(anchor, index); i <= Math.max(anchor, index); i++) selected.add(i);
      } else {
        anchor = index;
        selected.clear();
      }
      focus = index;
      paint();
      all[index].focus({ preventScroll: true });
      all[index].scrollIntoView({ block: "nearest" });
    }

    function columns() {
      const all = tiles();
      if (all.length < 2) return 1;
      const top = all[0].offsetTop;
      let n = 0;
      while (n < all.length && all[n].offsetTop === top) n++;
      return Math.max(1, n);
    }

    function chosenTiles() {
      const all = tiles();
      if (selected.size) return Array.from(selected).sort((a, b) => a - b).map((i) => all[i]);
      return focus >= 0 ? [all[focus]] : [];
    }

    function showDecisions(decided) {
      for (const tile of tiles()) {
        const ids = (tile.dataset.items || tile.dataset.item).split(",");
        const hit = ids.find((id) => Object.prototype.hasOwnProperty.call(decided, id));
        if (hit === undefined) continue;
        const category = decided[hit];
        const badge = tile.querySelector('[data-field="decision"]');
        if (badge) {
          badge.textContent = category || "";
          badge.className = "decision cat-" + (category || "none").toLowerCase();
        }
        tile.dataset.decision = category || "";
      }
    }

    // A key categorises the selection (or the focused tile) and moves on; a tile's button categorises that tile.
    async function categorise(category, clicked) {
      const chosen = clicked ? [clicked] : chosenTiles();
      if (!chosen.length) { say("Move to a tile first (arrow keys)."); return; }
      const whole = groupMode;
      groupMode = false;
      list.classList.remove("group-mode");
      try {
        const result = await post("/api/categorise", {
          items: chosen.map((tile) => Number(tile.dataset.item)), category: category, whole_group: whole,
        });
        showDecisions(result.items);
        say(result.count + " item(s) categorised " + category + (whole ? " (whole group)" : ""));
        if (clicked) return;
        if (chosen.length === 1 && !selected.size) moveFocus(focus + 1, false);
        else { selected.clear(); paint(); }
      } catch (error) {
        say("Not categorised: " + error.message);
      }
    }

    async function undo() {
      try {
        const result = await post("/api/undo", {});
        showDecisions(result.items);
        say(result.message || (result.count + " item(s) restored"));
      } catch (error) {
        say("Undo failed: " + error.message);
      }
    }

    async function revealKnown(tile) {
      if (!tile || !canSee || tile.dataset.known !== "1" || picture(tile)) return;
      try {
        const result = await post("/api/reveal/" + Number(tile.dataset.item), {});
        const img = document.createElement("img");
        img.alt = "revealed picture " + tile.dataset.item;
        img.decoding = "async";
        img.draggable = false;
        tile.dataset.exposure = String(result.exposure_id);
        img.addEventListener("load", () => reveal(tile, "key"), { once: true });
        const pic = tile.querySelector(".pic");
        pic.replaceChildren(img);
        img.src = "/thumb/" + Number(tile.dataset.item);
        say("Revealed item " + tile.dataset.item + " (logged)");
      } catch (error) {
        say("Not revealed: " + error.message);
      }
    }

    function groupSelect() {
      const tile = tiles()[focus];
      if (!tile) return;
      if (!tile.dataset.group) { say("This item is in no near-duplicate group."); return; }
      groupMode = true;
      list.classList.add("group-mode");
      const members = tiles().filter((t) => t.dataset.group === tile.dataset.group);
      selected.clear();
      paint();
      members.forEach((t) => t.classList.add("selected"));
      say("Group of " + tile.dataset.groupSize + " selected (" + members.length +
          " on this page): press a category key to categorise all of it, Esc to cancel");
    }

    document.addEventListener("keydown", (event) => {
      if (event.target.closest && event.target.closest("input, select, textarea, button, a")) {
        if (event.key !== "Escape" && !(event.target.closest("a") && event.key.startsWith("Arrow"))) return;
      }
      if (event.altKey || event.metaKey || (event.ctrlKey && event.key !== "z")) return;
      if (paused) return;
      const key = event.key;
      const cols = columns();
      const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
      if (key in moves) {
        event.preventDefault();
        moveFocus(focus < 0 ? 0 : focus + moves[key], event.shiftKey);
        return;
      }
      if (key === " ") {
        event.preventDefault();
        const tile = tiles()[focus];
        if (!tile) return;
        if (shown.has(tile)) conceal(tile); else reveal(tile, "key");
        return;
      }
      if (key === "Escape") {
        selected.clear();
        groupMode = false;
        list.classList.remove("group-mode");
        paint();
        say("");
        return;
      }
      if (key === "Enter" && focus >= 0) {
        window.location.href = "/item/" + Number(tiles()[focus].dataset.item);
        return;
      }
      if (key === "r") { revealKnown(tiles()[focus]); return; }
      if (!canCategorise) {
        if (key in keys || key === "z" || key === "g") say("Your role may not categorise.");
        return;
      }
      if (key === "g") { groupSelect(); return; }
      if (key === "z") { event.preventDefault(); undo(); return; }
      if (Object.prototype.hasOwnProperty.call(keys, key)) {
        event.preventDefault();
        categorise(keys[key]);
      }
    });

    list.addEventListener("click", (event) => {
      const button = event.target.closest("button.reveal");
      const choice = event.target.closest("button[data-category]");
      const tile = event.target.closest("li.tile");
      if (!tile) return;
      const index = tiles().indexOf(tile);
      if (button) { moveFocus(index, false); revealKnown(tile); return; }
      if (choice) {
        if (!canCategorise) return;
        groupMode = false;
        list.classList.remove("group-mode");
        categorise(choice.dataset.category, tile);
        return;
      }
      if (event.target.closest("a")) return;
      moveFocus(index, event.shiftKey);
    });

    for (const button of document.querySelectorAll("button[data-undo]")) {
      button.addEventListener("click", () => { if (canCategorise) undo(); });
    }

    let hoverTimer = null;
    list.addEventListener("mouseover", (event) => {
      const pic = event.target.closest(".pic");
      if (!pic) return;
      const tile = pic.closest("li.tile");
      window.clearTimeout(hoverTimer);
      hoverTimer = window.setTimeout(() => reveal(tile, "hover"), HOVER_DELAY_MS);
    });
    list.addEventListener("mouseout", (event) => {
      const pic = event.target.closest(".pic");
      if (!pic || (event.relatedTarget && pic.contains(event.relatedTarget))) return;
      window.clearTimeout(hoverTimer);
      const tile = pic.closest("li.tile");
      if (shown.has(tile) && shown.get(tile).how === "hover") conceal(tile);
    });
    list.addEventListener("error", (event) => {
      if (event.target.tagName !== "IMG") return;
      const pic = event.target.closest(".pic");
      const note = document.createElement("span");
      note.className = "hidden-note";
      note.textContent = "No preview (see the item page for why)";
      pic.replaceChildren(note);
    }, true);

    if (tiles().length === 1) moveFocus(0, false);
  }

  function start() {
    liveProgress();
    welfare();
    gallery();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
