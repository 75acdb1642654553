// sockit chat in a browser: one WebSocket to the page's own server.
// Every line is shown with textContent, never parsed as HTML, so a name
// or a message cannot inject markup or script.
"use strict";
(function () {
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("input");
  var status = document.getElementById("status");
  var ws = null, delay = 500, timer = null, me = "", quitting = false;
  var MAX_DELAY = 10000, MAX_LINES = 2000;

  function show(text, cls) {
    var stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    var div = document.createElement("div");
    div.className = "line" + (cls ? " " + cls : "");
    div.textContent = text;
    log.appendChild(div);
    while (log.childNodes.length > MAX_LINES) log.removeChild(log.firstChild);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function setStatus(text, down) {
    status.textContent = text;
    status.className = down ? "down" : "";
  }

  function connect() {
    timer = null;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") +
        location.host + "/chat";
    setStatus("connecting…", true);
    ws = new WebSocket(url, "sockit-chat");
    ws.onopen = function () {
      delay = 500;
      setStatus("connected", false);
    };
    ws.onmessage = function (ev) {
      var text = String(ev.data);
      // The server names us on joining and on /nick: our own lines are
      // shown as the others see them.
      var m = /^\*\*\* you are (?:now )?([^\s:]+)/.exec(text);
      if (m) me = m[1];
      show(text, text.indexOf("***") === 0 ? "notice" : "");
    };
    ws.onclose = function () {
      ws = null;
      if (quitting) {
        setStatus("left: reload the page to join again", true);
        return;
      }
      // Back off, doubling up to 10 s, so a restarting server is not
      // hammered; a successful open resets the delay.
      setStatus("disconnected: retrying in " + Math.round(delay / 1000) +
          " s", true);
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, MAX_DELAY);
    };
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!ws || ws.readyState !== WebSocket.OPEN || input.value === "")
      return;
    var text = input.value;
    ws.send(text);
    input.value = "";
    if (/^\/quit(\s|$)/.test(text)) quitting = true;
    // The server does not echo a line to its sender; commands answer
    // for themselves, and "//" sends a literal slash.
    if (text.charAt(0) !== "/") show("<" + me + "> " + text, "own");
    else if (text.charAt(1) === "/") show("<" + me + "> " + text.slice(1), "own");
  });
  connect();
})();
