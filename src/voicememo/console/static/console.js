// voicememo console: the play buttons and the live status of a conversation. No dependencies.
"use strict";

(function () {
  // One memo plays at a time; its button toggles play/pause, its waveform fills as it plays.
  function bubbleOf(audio) {
    return audio.closest(".bubble");
  }

  function setPlaying(button, playing) {
    button.setAttribute("aria-pressed", playing ? "true" : "false");
    button.querySelector(".glyph").textContent = playing ? "❚❚" : "▶";
    var label = button.getAttribute("aria-label").replace(/^(Play|Pause)/, playing ? "Pause" : "Play");
    button.setAttribute("aria-label", label);
  }

  function showProgress(audio) {
    var bubble = bubbleOf(audio);
    if (!bubble) return;
    var played = bubble.querySelector(".wave-played");
    var wave = bubble.querySelector(".wave");
    var total = audio.duration && isFinite(audio.duration) ? audio.duration : Number(wave.dataset.durationMs) / 1000;
    var fraction = total > 0 ? Math.min(1, audio.currentTime / total) : 0;
    if (audio.ended) fraction = 1;
    played.style.width = (fraction * 100).toFixed(2) + "%";
    played.style.setProperty("--wave-width", wave.clientWidth + "px");
  }

  function wire(root) {
    root.querySelectorAll("button.play:not([data-wired])").forEach(function (button) {
      button.dataset.wired = "1";
      var audio = document.getElementById(button.dataset.audio);
      if (!audio) return;
      button.addEventListener("click", function () {
        if (audio.paused) {
          document.querySelectorAll("audio").forEach(function (other) {
            if (other !== audio && !other.paused) other.pause();
          });
          if (audio.ended) audio.currentTime = 0;
          audio.play().catch(function () { setPlaying(button, false); });
        } else {
          audio.pause();
        }
      });
      audio.addEventListener("play", function () { setPlaying(button, true); });
      audio.addEventListener("pause", function () { setPlaying(button, false); });
      audio.addEventListener("ended", function () { setPlaying(button, false); showProgress(audio); });
      audio.addEventListener("timeupdate", function () { showProgress(audio); });
    });
  }

  // Once sent, a memo's bubble plays the rendition the recipient got (before, the original).
  function upgradeAudio(item, html) {
    var audio = item.querySelector("audio.memo-audio");
    if (!audio || !audio.paused || audio.currentTime > 0) return;
    var box = document.createElement("ol");
    box.innerHTML = html;
    var fresh = box.querySelector("audio.memo-audio");
    if (fresh && fresh.getAttribute("src") !== audio.getAttribute("src")) audio.setAttribute("src", fresh.getAttribute("src"));
    var compare = item.querySelector("details.compare");
    var freshCompare = box.querySelector("details.compare");
    if (compare && freshCompare && !compare.open) compare.replaceWith(freshCompare);
  }

  // Screen readers hear each status change through one polite live region.
  function announce(ticks) {
    var region = document.getElementById("announcer");
    var done = ticks.querySelectorAll("li.done");
    var failure = ticks.querySelector(".failure");
    if (!region) return;
    region.textContent = failure ? failure.textContent.trim() : done.length ? "Message " + done[done.length - 1].textContent.trim().replace(/^✓\s*/, "") : "";
  }

  // The conversation asks for its messages' state every couple of seconds: ticks change in place,
  // new messages are appended; nothing that plays is replaced.
  function poll(list) {
    var url = list.dataset.updates;
    var delay = 1500;
    function tick() {
      if (document.hidden) { window.setTimeout(tick, delay); return; }
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok || !/json/.test(response.headers.get("content-type") || "")) throw new Error("stop");
          return response.json();
        })
        .then(function (data) {
          data.messages.forEach(function (m) {
            var item = document.getElementById("m-" + m.id);
            if (!item) {
              var holder = document.createElement("ol");
              holder.innerHTML = m.bubble;
              item = holder.firstElementChild;
              list.appendChild(item);
              wire(item);
              var empty = document.getElementById("no-messages");
              if (empty) empty.remove();
              return;
            }
            var ticks = item.querySelector(".ticks");
            if (ticks && ticks.dataset.state !== m.state) {
              upgradeAudio(item, m.bubble);
              var box = document.createElement("div");
              box.innerHTML = m.ticks;
              var fresh = box.firstElementChild;
              ticks.replaceWith(fresh);
              announce(fresh);
              item.classList.toggle("is-failed", /^failed/.test(m.state));
            }
          });
          delay = 1500;
        })
        .catch(function () { delay = Math.min(delay * 2, 30000); })
        .finally(function () { window.setTimeout(tick, delay); });
    }
    window.setTimeout(tick, delay);
  }

  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    var list = document.getElementById("conversation");
    if (list && list.dataset.updates) poll(list);
  });
})();
