// Latent Studio canvas loader: runs inside the editor's frame (/p/ID/canvas). It waits for
// the server to have the canvas (a source checkout builds it at start), loads the Go runtime
// glue (wasm_exec.js of the toolchain that built the wasm) and starts the wasm, which makes
// its own <canvas> (Ebiten) sized to this frame. The wasm reads the project from
// document.body.dataset and reports through window.studioCanvas (wasm/README.md).
"use strict";
(() => {
  const body = document.body, status = document.getElementById("canvas-status");
  const say = (text, state) => {
    status.textContent = text;
    status.hidden = false;
    body.dataset.state = state;
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const script = (src) => new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error("could not load " + src));
    document.head.appendChild(s);
  });

  async function ready() {
    let st = { state: body.dataset.state, message: body.dataset.message, wasm: body.dataset.wasm, exec: body.dataset.exec };
    for (;;) {
      if (st.state === "ready") return st;
      if (st.state === "failed" || st.state === "missing") throw new Error(st.message || "the canvas is not available");
      if (st.state === "building") say("Building the canvas… (the first start after a change takes a minute or two)", "building");
      else say("Waiting for the studio…", "waiting");
      await sleep(1000);
      try {
        const r = await fetch("/wasm/status", { cache: "no-store" });
        st = await r.json();
      } catch (e) {
        st = { state: "offline" };
      }
    }
  }

  // Audio contexts the canvas makes (Ebiten's audio output), so the page and its tests can
  // see whether sound is running: window.studioAudioContexts[i].state.
  const contexts = (window.studioAudioContexts = []);
  if (window.AudioContext) {
    const Base = window.AudioContext;
    window.AudioContext = class extends Base {
      constructor(...args) { super(...args); contexts.push(this); }
    };
  }

  async function start() {
    const st = await ready();
    say("Loading the canvas…", "loading");
    performance.mark("studio:fetch");
    const wasm = fetch(st.wasm); // starts downloading while wasm_exec.js loads
    await script(st.exec);
    const go = new Go();
    let exitCode = 0;
    const exit = go.exit;
    go.exit = (code) => { exitCode = code; exit.call(go, code); };
    let result;
    if (WebAssembly.instantiateStreaming) {
      result = await WebAssembly.instantiateStreaming(wasm, go.importObject);
    } else {
      result = await WebAssembly.instantiate(await (await wasm).arrayBuffer(), go.importObject);
    }
    performance.mark("studio:instantiated");
    body.dataset.state = "running";
    status.hidden = true;
    await go.run(result.instance); // returns when the program ends: a crash (see the console)
    say("The canvas stopped (" + (exitCode ? "it crashed: see the browser console" : "exit") +
      "). Your last edits were saved locally; reload the page to continue.", "stopped");
  }

  start().catch((e) => say("The canvas could not start: " + e.message, "failed"));
})();
