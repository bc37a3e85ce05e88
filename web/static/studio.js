// Latent Studio page script: engine status and job progress over the studio websocket,
// dialogs and shortcuts. The canvas itself is Go compiled to wasm (issue 5); this file only
// keeps the page around it alive. Protocol: studio/protocol/PROTOCOL.md.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);

  // Confirm buttons (delete, empty trash) without inline script (CSP).
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-confirm]");
    if (b && !window.confirm(b.dataset.confirm)) ev.preventDefault();
  });

  const editor = $("editor");
  if (!editor) return;
  const project = editor.dataset.project;

  // Dialogs and shortcuts.
  const settings = $("settings"), sheet = $("shortcuts");
  const toggle = (d) => (d.open ? d.close() : d.showModal());
  $("open-settings").addEventListener("click", () => toggle(settings));
  $("open-shortcuts").addEventListener("click", () => toggle(sheet));
  document.addEventListener("keydown", (ev) => {
    if (ev.target.matches("input, textarea, select")) return;
    if (ev.key === "?") { ev.preventDefault(); toggle(sheet); }
    else if (ev.key === ",") { ev.preventDefault(); toggle(settings); }
    else if (ev.key === ".") { cancelJob(); }
  });

  // The websocket: hello (resuming this tab's session after a reload), then events.
  let ws, seq = 0, backoff = 250, jobId = editor.querySelector("#job").dataset.job || "";
  const jobSeq = new Map();
  const send = (type, body) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return 0;
    seq += 1;
    ws.send(JSON.stringify({ type, seq, body }));
    return seq;
  };
  const label = (e) => {
    let s = (e.backend || "?").toUpperCase();
    if (e.device) s += " · " + e.device;
    if (e.threads) s += " · " + e.threads + " threads";
    if (e.memory_free) s += " · " + (e.memory_free / 2 ** 30).toFixed(1) + " GiB free";
    return s;
  };
  const showEngine = (e, state) => {
    const st = $("engine-status");
    st.dataset.backend = e ? e.backend : st.dataset.backend;
    st.dataset.state = state;
    if (e) { $("engine-label").textContent = label(e); st.title = e.reason || ""; }
    if (state === "offline") $("engine-label").textContent = "offline: reconnecting…";
  };
  const showJob = (j) => {
    const box = $("job");
    box.hidden = false;
    box.dataset.job = j.id; box.dataset.state = j.state;
    jobId = j.id;
    const pct = Math.round(j.percent || 0);
    $("job-progress").value = pct;
    let t = j.kind + ": " + j.state;
    if (j.state === "running") {
      t += " " + pct + "%";
      if (j.stage) t += " · " + j.stage;
      if (j.eta_ms) t += " · " + Math.ceil(j.eta_ms / 1000) + " s left";
    }
    if (j.error) t += " · " + j.error;
    $("job-label").textContent = t;
    $("job-cancel").disabled = !(j.state === "running" || j.state === "queued");
  };
  const jobs = new Map();
  const update = (id, patch) => {
    const j = Object.assign(jobs.get(id) || { id, kind: "job", percent: 0 }, patch);
    jobs.set(id, j);
    if (j.project === project) showJob(j); // jobs of other projects in this tab's session stay off this page
  };
  function cancelJob() { if (jobId) send("cancel", { job: jobId }); }
  $("job-cancel").addEventListener("click", cancelJob);
  for (const b of document.querySelectorAll(".test-job")) {
    b.addEventListener("click", () => {
      const s = send("job", { kind: b.dataset.kind, params: { ms: 500, steps: 30 }, project });
      jobSeq.set(s, b.dataset.kind);
      settings.close();
    });
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/ws");
    ws.onopen = () => {
      backoff = 250;
      const resume = sessionStorage.getItem("studio-session") || undefined;
      send("hello", { version: 1, client: "web", resume });
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") return; // binary frames belong to the canvas
      const m = JSON.parse(ev.data), b = m.body || {};
      switch (m.type) {
        case "welcome":
          sessionStorage.setItem("studio-session", b.session);
          showEngine(b.engine, "online");
          for (const j of b.jobs || []) update(j.id, j);
          break;
        case "status":
          showEngine(b.engine, "online");
          break;
        case "queued":
          update(b.job, { kind: jobSeq.get(m.seq) || "job", state: "queued", project, seq: m.seq });
          break;
        case "progress":
          update(b.job, { state: "running", percent: b.percent, stage: b.stage, eta_ms: b.eta_ms });
          break;
        case "done":
          update(b.job, { state: "done", percent: 100, eta_ms: 0 });
          break;
        case "cancelled":
          update(b.job, { state: "cancelled", eta_ms: 0 });
          break;
        case "error":
          for (const [id, j] of jobs) if (j.seq === m.seq) update(id, { state: "failed", error: b.message });
          break;
      }
    };
    ws.onclose = () => {
      showEngine(null, "offline");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
  }
  connect();
})();
