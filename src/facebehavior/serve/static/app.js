/* facebehavior serve: the page. Plain JavaScript, no build step, nothing loaded from elsewhere.
   "/" is the upload page; "/jobs/<id>" a job's result page (progress while it runs). */
"use strict";

const AU_NAMES = {
  au1: "inner brow raiser", au2: "outer brow raiser", au4: "brow lowerer", au5: "upper lid raiser",
  au6: "cheek raiser", au7: "lid tightener", au9: "nose wrinkler", au10: "upper lip raiser",
  au12: "lip corner puller", au14: "dimpler", au15: "lip corner depressor", au17: "chin raiser",
  au20: "lip stretcher", au23: "lip tightener", au24: "lip pressor", au25: "lips part", au26: "jaw drop",
};
const SVG_NS = "http://www.w3.org/2000/svg";
let INFO = null;
let pollTimer = null;

// ---- small helpers ---------------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children.flat()) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function bytes(n) {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(0)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1).replace(/\.0$/, "")} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}
const pct = (p) => (p === null || p === undefined ? "—" : `${Math.round(p * 100)}%`);
const signed = (v) => (v === null || v === undefined ? "—" : (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(2));
const seconds = (t) => (t === null || t === undefined ? "—" : `${t.toFixed(t < 10 ? 2 : 1)} s`);
const colourOf = (label) => (INFO && INFO.colours[label]) || "#8a94a6";
const auTitle = (label) => label.toUpperCase().replace(/^AU/, "AU ");

async function api(path, options) {
  const response = await fetch(path, options);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
  return data;
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

// the head of a kind the summaries and timelines use: the one named as usual, else the first of its kind
function mainTask(tasks, kind, name) {
  return tasks.find((t) => t.kind === kind && t.name === name) || tasks.find((t) => t.kind === kind);
}

function put(el, ...items) { for (const item of items.flat()) if (item) el.append(item); return el; }

// ---- start -------------------------------------------------------------------------------------------------

async function main() {
  const app = document.getElementById("app");
  try {
    INFO = await api("/api/info");
  } catch (e) {
    clear(app).append(h("div", { class: "card error-card" }, h("h2", { text: "The server does not answer" }),
      h("p", { text: String(e.message || e) })));
    return;
  }
  const m = INFO.model;
  const heads = m.tasks.map((t) => t.title.toLowerCase()).join(", ") || "no trained head";
  clear(document.getElementById("model")).append(h("span", { class: "dot" }), `${m.name} · ${heads}`);
  document.getElementById("model").title = m.source + (m.domain ? ` (trained on ${m.domain})` : "");
  window.addEventListener("popstate", route);
  route();
}

function route() {
  if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
  const match = location.pathname.match(/^\/jobs\/([A-Za-z0-9_-]+)\/?$/);
  if (match) showJob(match[1]); else showHome();
}

function go(url) { history.pushState({}, "", url); route(); window.scrollTo(0, 0); }

function warningsBox() {
  if (!INFO.warnings.length) return null;
  return h("div", { class: "banner warn" }, INFO.warnings.map((w) => h("p", { text: w })));
}

// ---- the upload page -----------------------------------------------------------------------------------------

function showHome() {
  document.title = "facebehavior";
  const app = clear(document.getElementById("app"));
  const lim = INFO.limits;
  const heads = INFO.model.tasks;
  const what = heads.map((t) => ({ multiclass: "expression probabilities", multilabel: "action units" }[t.kind] ||
    (t.circumplex ? "valence–arousal" : t.name)));
  const shows = what.length > 1 ? `${what.slice(0, -1).join(", ")} and ${what[what.length - 1]}` :
    what[0] || "nothing (the model has no trained head)";
  let chosen = [];

  const input = h("input", { type: "file", id: "file-input", multiple: true, hidden: true,
    accept: "image/*,video/*,.mkv,.avi,.mov,.mp4,.webm,.m4v,.mpg,.mpeg,.wmv,.tif,.tiff" });
  const list = h("ul", { class: "chosen", id: "chosen" });
  const msg = h("p", { class: "msg", id: "upload-msg", role: "status" });
  const button = h("button", { class: "primary", id: "analyse", disabled: true, type: "button" }, "Analyse");
  const bar = h("div", { class: "bar" }, h("span"));
  const progress = h("div", { class: "upload-progress", hidden: true }, bar, h("small"));

  function refresh() {
    clear(list);
    let problem = "";
    chosen.forEach((f, i) => {
      const big = f.size > lim.max_upload_bytes;
      if (big && !problem) problem = `${f.name} is ${bytes(f.size)}: the limit is ${bytes(lim.max_upload_bytes)} per file.`;
      list.append(h("li", { class: big ? "bad" : "" },
        h("span", { class: "kind", text: kindOf(f) }), h("span", { class: "name", text: f.name }),
        h("span", { class: "size", text: bytes(f.size) }),
        h("button", { class: "link", type: "button", title: "remove", "aria-label": `remove ${f.name}`,
          onclick: () => { chosen.splice(i, 1); refresh(); } }, "×")));
    });
    if (chosen.length > lim.max_files) problem = `${chosen.length} files chosen: at most ${lim.max_files} per upload.`;
    msg.textContent = problem;
    msg.className = problem ? "msg error" : "msg";
    button.disabled = !chosen.length || !!problem;
    button.textContent = chosen.length ? `Analyse ${chosen.length} file${chosen.length > 1 ? "s" : ""}` : "Analyse";
  }

  function add(files) {
    for (const f of files) chosen.push(f);
    refresh();
  }

  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  const drop = h("div", { class: "drop", id: "drop", tabindex: "0", role: "button",
    "aria-label": "choose photos or videos",
    onclick: () => input.click(),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } },
    ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); add(e.dataTransfer.files); } },
    uploadIcon(),
    h("strong", { text: "Drop photos or videos here" }),
    h("span", {}, "or ", h("span", { class: "fake-link", text: "choose files" })),
    h("small", { text: `Photos (JPEG, PNG, WebP, BMP, TIFF) and videos (MP4, MOV, AVI, MKV, WebM) · up to ${lim.max_files} files, ${bytes(lim.max_upload_bytes)} each` }));

  button.addEventListener("click", () => {
    const form = new FormData();
    for (const f of chosen) form.append("files", f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs");
    xhr.responseType = "json";
    button.disabled = true;
    progress.hidden = false;
    msg.className = "msg";
    msg.textContent = "Uploading …";
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      bar.firstChild.style.width = `${(100 * e.loaded / e.total).toFixed(1)}%`;
      progress.lastChild.textContent = `${bytes(e.loaded)} of ${bytes(e.total)}`;
    };
    xhr.onload = () => {
      const data = xhr.response || {};
      if (xhr.status === 202 && data.url) { go(data.url); return; }
      progress.hidden = true;
      msg.className = "msg error";
      msg.textContent = data.error || `The upload was refused (${xhr.status}).`;
      button.disabled = false;
    };
    xhr.onerror = () => {
      progress.hidden = true;
      msg.className = "msg error";
      msg.textContent = "The upload failed: the server closed the connection (a file over the size limit?) or stopped.";
      button.disabled = false;
    };
    xhr.send(form);
  });

  const recent = h("ul", { class: "recent", id: "recent" });
  put(app,
    warningsBox(),
    h("section", { class: "card hero" },
      h("h1", { text: "Analyse faces in photos and videos" }),
      h("p", { class: "lead", text: `Every face found is shown with its ${shows}. You can download the same table ` +
        "“facebehavior analyze” writes, the plots and the run's details." }),
      drop, input, list,
      h("div", { class: "actions" }, button, msg), progress),
    h("section", { class: "card", id: "recent-card", hidden: true }, h("h2", { text: "Recent results" }), recent));
  refresh();
  api("/api/jobs").then((data) => {
    if (!data.jobs.length) return;
    document.getElementById("recent-card").hidden = false;
    for (const j of data.jobs.slice(0, 10)) {
      const names = j.uploads.map((u) => u.name);
      const label = names.slice(0, 3).join(", ") + (names.length > 3 ? ` and ${names.length - 3} more` : "");
      recent.append(h("li", {}, h("a", { href: j.url, onclick: (e) => { e.preventDefault(); go(j.url); } }, label),
        h("span", { class: `badge ${j.state}`, text: j.state }),
        h("time", { text: new Date(j.created * 1000).toLocaleTimeString() })));
    }
  }).catch(() => {});
}

function kindOf(file) {
  if (file.type.startsWith("video/") || /\.(mp4|mov|avi|mkv|webm|m4v|mpe?g|wmv)$/i.test(file.name)) return "video";
  if (file.type.startsWith("image/")) return "photo";
  return "file";
}

function uploadIcon() {
  return svg("svg", { viewBox: "0 0 48 48", width: "44", height: "44", class: "drop-icon", "aria-hidden": "true" },
    svg("path", { d: "M14 34h-2a9 9 0 0 1-1-17.9A12 12 0 0 1 34 13a9 9 0 0 1 2 17.8V31h-2", fill: "none",
      stroke: "currentColor", "stroke-width": "2.4", "stroke-linecap": "round", "stroke-linejoin": "round" }),
    svg("path", { d: "M24 40V22m-7 7 7-7 7 7", fill: "none", stroke: "currentColor", "stroke-width": "2.4",
      "stroke-linecap": "round", "stroke-linejoin": "round" }));
}

// ---- a job's page --------------------------------------------------------------------------------------------

async function showJob(id) {
  const app = clear(document.getElementById("app"));
  document.title = "Results · facebehavior";
  const head = h("div", { class: "job-head" },
    h("div", {}, h("h1", { text: "Results" }), h("p", { class: "sub", id: "job-sub" })),
    h("div", { class: "job-actions" },
      h("a", { class: "button", href: "/", onclick: (e) => { e.preventDefault(); go("/"); } }, "New analysis"),
      h("button", { class: "ghost", type: "button", id: "delete", onclick: async () => {
        if (!confirm("Delete these results and their files from the server?")) return;
        try { await api(`/api/jobs/${id}`, { method: "DELETE" }); } catch (e) { /* already gone */ }
        go("/");
      } }, "Delete")));
  const status = h("section", { class: "card status", id: "status" });
  const body = h("div", { id: "results" });
  put(app, warningsBox(), head, status, body);
  let job;
  try {
    job = await api(`/api/jobs/${id}`);
  } catch (e) {
    status.classList.add("error-card");
    status.append(h("h2", { text: "No such result" }), h("p", { text: e.message }));
    head.querySelector("#delete").hidden = true;
    return;
  }
  const names = job.uploads.map((u) => u.name);
  document.getElementById("job-sub").textContent =
    `${names.length} file${names.length > 1 ? "s" : ""} uploaded at ${new Date(job.created * 1000).toLocaleTimeString()} · ` +
    "this page's address stays valid while the server runs";
  const poll = async () => {
    if (location.pathname !== `/jobs/${id}`) return;
    try { job = await api(`/api/jobs/${id}`); } catch (e) {
      renderStatus(status, { state: "failed", message: e.message, uploads: [] });
      return;
    }
    renderStatus(status, job);
    if (job.state === "queued" || job.state === "running") { pollTimer = setTimeout(poll, 400); return; }
    if (job.state === "done") renderResult(body, id, job);
  };
  renderStatus(status, job);
  if (job.state === "done") renderResult(body, id, job); else pollTimer = setTimeout(poll, 300);
}

function renderStatus(el, job) {
  clear(el);
  el.className = `card status ${job.state}`;
  el.dataset.state = job.state;
  const p = job.progress || {};
  if (job.state === "queued") {
    const n = job.ahead || 0;
    el.append(h("div", { class: "status-line" }, spinner(), h("strong", { text: "Waiting" }),
      h("span", { text: n ? `${n} job${n > 1 ? "s" : ""} ahead of this one` : "starting …" })));
  } else if (job.state === "running") {
    let label = "Starting …", share = null;
    if (p.stage === "analysing") {
      if (p.media === "video" && p.current) {
        label = `Analysing ${p.current}: ${p.frames_done} / ${p.frames_total || "?"} frames` + (p.fps ? ` · ${p.fps} fps` : "");
        share = p.frames_total ? p.frames_done / p.frames_total : null;
      } else {
        label = `Analysing: ${p.files_done} of ${p.files_total} file${p.files_total > 1 ? "s" : ""} done` +
          (p.current ? ` · ${p.current}` : "");
        share = p.files_total ? p.files_done / p.files_total : null;
      }
    } else if (p.stage === "drawing") {
      label = p.current ? `Drawing the results on ${p.current}: ${p.frames_done} / ${p.frames_total} frames` : "Preparing the results …";
      share = p.current && p.frames_total ? p.frames_done / p.frames_total : null;
    }
    const bar = h("div", { class: `bar ${share === null ? "indeterminate" : ""}` }, h("span"));
    if (share !== null) bar.firstChild.style.width = `${Math.min(100, 100 * share).toFixed(1)}%`;
    el.append(h("div", { class: "status-line" }, spinner(), h("strong", { text: "Running" }),
      h("span", { id: "progress-text", text: label })), bar);
    if (p.files_total > 1) el.append(h("small", { class: "muted", text: `${p.files_done} of ${p.files_total} files done` }));
  } else if (job.state === "done") {
    const c = (job.result && job.result.counts) || {};
    el.append(h("div", { class: "status-line" }, h("span", { class: "ok-mark", text: "✓" }), h("strong", { text: "Done" }),
      h("span", { text: `${c.analysed || 0} of ${c.inputs || 0} file${c.inputs === 1 ? "" : "s"} analysed · ` +
        `${c.faces || 0} face${c.faces === 1 ? "" : "s"} found in ${c.frames || 0} photo${c.frames === 1 ? "" : "s"} ` +
        `or frame${c.frames === 1 ? "" : "s"}` + (c.failed ? ` · ${c.failed} file${c.failed === 1 ? "" : "s"} could not be used` : "") })));
  } else {
    el.append(h("div", { class: "status-line" }, h("span", { class: "bad-mark", text: "!" }),
      h("strong", { text: job.state === "cancelled" ? "Stopped" : "Failed" }), h("span", { text: job.message || "" })));
  }
}

function spinner() { return h("span", { class: "spinner", "aria-hidden": "true" }); }

function renderResult(el, id, job) {
  clear(el);
  const r = job.result;
  const fileUrl = (name) => `/api/jobs/${id}/files/${encodeURIComponent(name)}`;
  if (r.notes.length) {
    el.append(h("section", { class: "banner info", id: "notes" }, h("strong", { text: "Notes from the analysis" }),
      h("ul", {}, r.notes.map((n) => h("li", { text: n })))));
  }
  const table = r.downloads.filter((d) => !d.name.startsWith("annotated-") && !d.name.startsWith("timeline-"));
  const media = r.downloads.filter((d) => d.name.startsWith("annotated-") || d.name.startsWith("timeline-"));
  el.append(h("section", { class: "card downloads", id: "downloads" },
    h("h2", { text: "Downloads" }),
    h("p", { class: "muted", text: "The table is exactly what “facebehavior analyze” writes for these files (one row per face per " +
      "photo or video frame; columns in docs/analyze.md). Its source column holds the server's copy of each file: " +
      "uploads.csv gives the names you uploaded." }),
    h("div", { class: "download-list" }, table.map((d) => downloadLink(d, fileUrl))),
    media.length ? h("details", { class: "more" }, h("summary", { text: `Plots and annotated media (${media.length})` }),
      h("div", { class: "download-list" }, media.map((d) => downloadLink(d, fileUrl)))) : null));
  for (const f of r.files) {
    if (f.media === "video" && (f.tracks || f.frames)) el.append(videoCard(f, r.tasks, fileUrl));
    else if (f.faces || (f.status === "no_face" && f.annotated)) el.append(photoCard(f, r.tasks, fileUrl));
    else el.append(errorCard(f));
  }
}

function downloadLink(d, fileUrl) {
  return h("a", { class: "download", href: fileUrl(d.name), download: d.name, "data-name": d.name },
    h("span", { class: "dl-icon", "aria-hidden": "true", text: "↓" }), h("span", { text: d.label }),
    h("small", { text: bytes(d.size) }));
}

function fileHeader(f, meta) {
  return h("header", { class: "file-head" },
    h("h2", {}, h("span", { class: `kind ${f.media || "file"}`, text: f.media === "video" ? "video" : f.media === "image" ? "photo" : "file" }),
      h("span", { class: "name", text: f.name })),
    h("span", { class: "meta", text: meta }));
}

function errorCard(f) {
  const e = f.error || { text: f.status === "no_rows" ? "nothing could be read from this file" : "not analysed", detail: "" };
  return h("article", { class: "card file error-card", "data-file": f.index, "data-status": f.status },
    fileHeader(f, bytes(f.size)),
    h("p", { class: "error-text", text: `Not analysed: ${e.text}.` }),
    e.detail ? h("details", {}, h("summary", { text: "details" }), h("code", { text: e.detail })) : null);
}

function partialNote(f) {
  return f.error ? h("p", { class: "banner warn small", text: `${f.error.text}. ${f.error.detail || ""}` }) : null;
}

// ---- photos -----------------------------------------------------------------------------------------------------

function photoCard(f, tasks, fileUrl) {
  const n = (f.faces || []).length;
  const card = h("article", { class: "card file photo", "data-file": f.index, "data-status": f.status },
    fileHeader(f, `${f.width}×${f.height} px · ${n ? `${n} face${n > 1 ? "s" : ""}` : "no face"}`), partialNote(f));
  const shot = h("figure", { class: "shot" },
    f.annotated ? h("img", { src: fileUrl(f.annotated), alt: `${f.name} with the faces marked` }) : null);
  const faces = h("div", { class: "faces" });
  if (!n) {
    faces.append(h("div", { class: "empty" }, h("strong", { text: "No face found in this photo." }),
      h("p", { text: "Faces smaller than about 20 pixels, strongly turned away, or covered are not detected." })));
  }
  for (const face of f.faces || []) faces.append(faceBlock(face, tasks));
  card.append(h("div", { class: "photo-grid" }, shot, faces));
  return card;
}

function faceBlock(face, tasks) {
  const v = face.values;
  const expr = mainTask(tasks, "multiclass", "expr");
  const top = expr ? v[expr.top] : null;
  const chip = top ? h("span", { class: "chip", style: { background: colourOf(top) } },
    `${top} ${pct(v[`${expr.name}_${top}`])}`) : null;
  return h("section", { class: "face", "data-face": face.face_index },
    h("h3", {}, `Face #${face.face_index}`, chip),
    tasks.map((t) => taskPanel(t, v)));
}

function taskPanel(t, values, extra) {
  const body = t.kind === "multiclass" ? exprBars(t, values)
    : t.kind === "multilabel" ? auBars(t, values)
    : t.circumplex ? circumplex(values[t.columns[0]], values[t.columns[1]], extra && extra.trail)
    : regressionBars(t, values);
  return h("div", { class: `panel ${t.kind}`, "data-task": t.name }, h("h4", { text: t.title }), body);
}

function exprBars(t, values) {
  const top = values[t.top];
  return h("div", { class: "bars" }, t.labels.map((label, i) => {
    const p = values[t.columns[i]];
    const fill = h("span", { class: "fill" });
    fill.style.width = `${p === null ? 0 : (100 * p).toFixed(1)}%`;
    fill.style.background = colourOf(label);
    return h("div", { class: `bar-row ${label === top ? "top" : ""}`, "data-label": label },
      h("span", { class: "label", text: label }), h("span", { class: "track" }, fill),
      h("span", { class: "value", text: pct(p) }));
  }));
}

function auBars(t, values) {
  const hidden = t.hidden && t.hidden.length ? h("p", { class: "muted small hidden-note",
    text: `Not shown: ${t.hidden.map(auTitle).join(", ")} (the model had no training annotations for them).` }) : null;
  return h("div", {}, auGrid(t, values), hidden);
}

function auGrid(t, values) {
  return h("div", { class: "au-grid" }, t.labels.map((label, i) => {
    const p = values[t.columns[i]];
    const on = values[t.on[i]];
    const fill = h("span", { class: "fill" });
    fill.style.width = `${p === null ? 0 : (100 * p).toFixed(1)}%`;
    const name = AU_NAMES[label];
    return h("div", { class: `au-row ${on ? "on" : ""} ${p === null ? "na" : ""}`, "data-label": label,
      title: p === null ? "no training annotations for this AU: no value" : `${label}: ${p.toFixed(3)}${on ? " (on)" : ""}` },
      h("span", { class: "label" }, h("b", { text: auTitle(label) }), name ? h("small", { text: name }) : null),
      h("span", { class: "track" }, fill), h("span", { class: "value", text: p === null ? "n/a" : pct(p) }));
  }));
}

function regressionBars(t, values) {
  return h("div", { class: "bars" }, t.labels.map((label, i) => {
    const v = values[t.columns[i]];
    const fill = h("span", { class: "fill centre" });
    if (v !== null) {
      const x = Math.max(-1, Math.min(1, v));
      fill.style.left = `${50 + Math.min(0, x) * 50}%`;
      fill.style.width = `${Math.abs(x) * 50}%`;
    }
    return h("div", { class: "bar-row" }, h("span", { class: "label", text: label }),
      h("span", { class: "track signed" }, fill), h("span", { class: "value", text: signed(v) }));
  }));
}

function circumplex(valence, arousal, trail) {
  const R = 70, C = 90;
  const s = svg("svg", { viewBox: "0 0 180 180", class: "circumplex", role: "img",
    "aria-label": `valence ${signed(valence)}, arousal ${signed(arousal)}` });
  s.append(svg("circle", { cx: C, cy: C, r: R, class: "ring" }),
    svg("circle", { cx: C, cy: C, r: R / 2, class: "ring inner" }),
    svg("line", { x1: C - R, y1: C, x2: C + R, y2: C, class: "axis" }),
    svg("line", { x1: C, y1: C - R, x2: C, y2: C + R, class: "axis" }),
    svg("text", { x: C + R - 2, y: C - 5, class: "tick end" }, "pleasant"),
    svg("text", { x: C - R + 2, y: C - 5, class: "tick" }, "unpleasant"),
    svg("text", { x: C + 4, y: C - R + 10, class: "tick" }, "aroused"),
    svg("text", { x: C + 4, y: C + R - 4, class: "tick" }, "calm"));
  if (trail && trail.length > 1) {
    const pts = trail.map(([v, a]) => `${(C + v * R).toFixed(1)},${(C - a * R).toFixed(1)}`).join(" ");
    s.append(svg("polyline", { points: pts, class: "trail" }));
  }
  const dot = svg("circle", { r: 6, class: "va-dot" });
  s.append(dot);
  const readout = h("div", { class: "va-values" }, h("span", {}, "valence ", h("b", { class: "valence", text: signed(valence) })),
    h("span", {}, "arousal ", h("b", { class: "arousal", text: signed(arousal) })));
  const wrap = h("div", { class: "va" }, s, readout);
  placeDot(wrap, valence, arousal);
  return wrap;
}

function placeDot(wrap, valence, arousal) {
  const dot = wrap.querySelector(".va-dot");
  const ok = valence !== null && arousal !== null && valence !== undefined && arousal !== undefined;
  dot.setAttribute("cx", ok ? 90 + Math.max(-1, Math.min(1, valence)) * 70 : 90);
  dot.setAttribute("cy", ok ? 90 - Math.max(-1, Math.min(1, arousal)) * 70 : 90);
  dot.setAttribute("visibility", ok ? "visible" : "hidden");
  wrap.querySelector(".valence").textContent = signed(valence);
  wrap.querySelector(".arousal").textContent = signed(arousal);
}

// ---- videos -----------------------------------------------------------------------------------------------------

function videoCard(f, tasks, fileUrl) {
  const tracks = f.tracks || [];
  const meta = [`${f.frames} frames`, seconds(f.duration), f.fps ? `${+f.fps.toFixed(2)} fps` : null,
    `${tracks.length} face track${tracks.length === 1 ? "" : "s"}`,
    f.frames_without_face ? `${f.frames_without_face} frame${f.frames_without_face > 1 ? "s" : ""} without a face` : null]
    .filter(Boolean).join(" · ");
  const card = h("article", { class: "card file video", "data-file": f.index, "data-status": f.status },
    fileHeader(f, meta), partialNote(f));
  const duration = Math.max(f.duration || 0, ...tracks.map((t) => t.end || 0)) || 1;
  const state = { t: 0, track: tracks.length ? tracks[0] : null, cursors: [], readout: null };

  // the player (annotated WebM) or, without one, the key frame nearest the cursor
  let player, still = null;
  if (f.preview) {
    player = h("video", { src: fileUrl(f.preview), controls: true, muted: true, playsinline: true, preload: "auto",
      class: "player" });
  } else {
    still = h("img", { class: "player", alt: "key frame", src: f.keyframes && f.keyframes.length ? fileUrl(f.keyframes[0].url) : "" });
    player = still;
  }
  const timeLabel = h("span", { class: "time", text: "0.00 s" });
  const readout = h("div", { class: "readout" });
  const trackPick = tracks.length > 1 ? h("select", { class: "track-pick", "aria-label": "face track",
    onchange: (e) => { state.track = tracks.find((t) => String(t.track_id) === e.target.value); seek(state.t, true); } },
  tracks.map((t) => h("option", { value: t.track_id, text: `face track ${t.track_id}` }))) : null;

  function nearest(series, t) {
    const ts = series.t;
    let lo = 0, hi = ts.length - 1;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (ts[mid] <= t) lo = mid; else hi = mid; }
    return Math.abs(ts[hi] - t) < Math.abs(ts[lo] - t) ? hi : lo;
  }

  function renderReadout() {
    clear(readout);
    const tr = state.track;
    if (!tr) { readout.append(h("p", { class: "muted", text: "No face was found in this video." })); return; }
    const i = nearest(tr.series, state.t);
    const gap = Math.abs(tr.series.t[i] - state.t);
    const values = {};
    for (const k of Object.keys(tr.series)) values[k] = tr.series[k][i];
    const away = gap > Math.max(0.5, 3 / (f.fps || 25));
    readout.append(h("div", { class: "readout-head" },
      h("strong", { text: `Face track ${tr.track_id}` }), trackPick,
      h("span", { class: "muted", text: away ? "not in view at this moment" : `frame ${values.frame} · ${seconds(values.t)}` })));
    const va = tasks.find((t) => t.circumplex);
    const trail = va ? tr.series[va.columns[0]].map((v, k) => [v, tr.series[va.columns[1]][k]])
      .filter(([v, a]) => v !== null && a !== null).filter((_, k, all) => k % Math.ceil(all.length / 300) === 0) : null;
    readout.classList.toggle("away", away);
    readout.append(h("div", { class: "readout-panels" }, tasks.map((t) => taskPanel(t, values, { trail }))));
  }

  function seek(t, fromUser) {
    state.t = Math.max(0, Math.min(duration, t));
    timeLabel.textContent = seconds(state.t);
    for (const c of state.cursors) c(state.t);
    if (fromUser && f.preview && Math.abs(player.currentTime - state.t) > 0.02) player.currentTime = state.t;
    if (still && f.keyframes && f.keyframes.length) {
      let best = f.keyframes[0];
      for (const k of f.keyframes) if (Math.abs(k.t - state.t) < Math.abs(best.t - state.t)) best = k;
      const src = fileUrl(best.url);
      if (!still.src.endsWith(src)) still.src = src;
    }
    renderReadout();
  }

  if (f.preview) {
    let raf = null;
    const follow = () => { seek(player.currentTime, false); raf = player.paused ? null : requestAnimationFrame(follow); };
    player.addEventListener("play", () => { if (!raf) raf = requestAnimationFrame(follow); });
    player.addEventListener("seeked", () => seek(player.currentTime, false));
    player.addEventListener("timeupdate", () => { if (player.paused) seek(player.currentTime, false); });
  }

  card.append(h("div", { class: "video-grid" },
    h("div", { class: "player-box" }, player, h("div", { class: "player-caption" },
      f.preview ? "Annotated video: boxes, track numbers and the top expression drawn on each face." :
        "Key frame nearest the timeline's cursor (this server cannot write WebM previews).", " ", timeLabel)),
    readout));

  if (f.keyframes && f.keyframes.length) {
    card.append(h("div", { class: "keyframes" }, f.keyframes.map((k) =>
      h("button", { type: "button", class: "keyframe", title: `frame ${k.frame} · ${seconds(k.t)}`, onclick: () => seek(k.t, true) },
        h("img", { src: fileUrl(k.url), alt: `frame ${k.frame}` }), h("span", { text: seconds(k.t) })))));
  }

  if (tracks.length) {
    card.append(summaryTable(tracks, tasks));
    const lanes = h("div", { class: "tracks" });
    for (const tr of tracks) lanes.append(trackTimeline(tr, tasks, duration, state, seek, f, fileUrl));
    card.append(h("h3", { class: "section-title", text: "Timelines" }),
      h("p", { class: "muted small", text: "Click or drag on a timeline to move through the video." +
        (tracks.some((t) => t.points < t.rows) ? " Long tracks are drawn from evenly spaced frames; the table has every frame." : "") }),
      lanes);
    if (f.tracks_not_shown) card.append(h("p", { class: "muted small", text: `${f.tracks_not_shown} shorter face track(s) are not shown here; they are in the table.` }));
  } else {
    card.append(h("div", { class: "empty" }, h("strong", { text: "No face found in this video." })));
  }
  seek(0, false);
  return card;
}

function summaryTable(tracks, tasks) {
  const expr = mainTask(tasks, "multiclass", "expr");
  const reg = mainTask(tasks, "regression", "va");
  const au = mainTask(tasks, "multilabel", "au");
  const head = h("tr", {}, h("th", { text: "face track" }), h("th", { text: "frames" }),
    expr ? expr.labels.map((l) => h("th", { class: "num" }, h("span", { class: "swatch", style: { background: colourOf(l) } }), l)) : null,
    reg ? reg.labels.map((l) => h("th", { class: "num", text: `mean ${l}` })) : null,
    au ? h("th", { text: "most frequent AUs" }) : null);
  const rows = tracks.map((tr) => {
    const s = tr.summary;
    const best = expr ? Math.max(...expr.labels.map((l) => s[expr.name][l])) : null;
    const aus = au ? Object.entries(s[au.name]).filter(([, v]) => v !== null && v >= 0.05).sort((a, b) => b[1] - a[1])
      .slice(0, 3).map(([k, v]) => `${auTitle(k)} ${pct(v)}`).join(", ") || "—" : null;
    return h("tr", { "data-track": tr.track_id }, h("td", { text: `#${tr.track_id}` }), h("td", { class: "num", text: tr.rows }),
      expr ? expr.labels.map((l) => h("td", { class: `num ${s[expr.name][l] === best && best > 0 ? "best" : ""}`,
        "data-label": l, text: pct(s[expr.name][l]) })) : null,
      reg ? reg.labels.map((l) => h("td", { class: "num", text: signed(s[reg.name][l]) })) : null,
      au ? h("td", { text: aus }) : null);
  });
  const stacked = expr ? tracks.map((tr) => h("div", { class: "stack-row" }, h("span", { class: "stack-label", text: `#${tr.track_id}` }),
    h("div", { class: "stack" }, expr.labels.filter((l) => tr.summary[expr.name][l] > 0).map((l) => {
      const seg = h("span", { title: `${l}: ${pct(tr.summary[expr.name][l])}` });
      seg.style.width = `${100 * tr.summary[expr.name][l]}%`;
      seg.style.background = colourOf(l);
      return seg;
    })))) : [];
  return h("section", { class: "summary" },
    h("h3", { class: "section-title", text: "Summary" }),
    expr ? h("p", { class: "muted small", text: "Share of each face track's frames in which each expression is the most probable." }) : null,
    stacked.length ? h("div", { class: "stacks" }, stacked) : null,
    h("div", { class: "table-scroll" }, h("table", { class: "summary-table" }, h("thead", {}, head), h("tbody", {}, rows))));
}

function trackTimeline(tr, tasks, duration, state, seek, f, fileUrl) {
  const expr = mainTask(tasks, "multiclass", "expr");
  const reg = mainTask(tasks, "regression", "va");
  const au = mainTask(tasks, "multilabel", "au");
  const REG_COLOURS = ["#e8590c", "#1c7ed6", "#2f9e44", "#7048e8"];
  const lanes = [];
  if (expr) lanes.push({ kind: "expr", task: expr, height: 90, title: "expressions (probability)" });
  if (reg) lanes.push({ kind: "reg", task: reg, height: 60, title: reg.circumplex ? "valence and arousal" : reg.name });
  if (au) lanes.push({ kind: "au", task: au, height: Math.max(30, au.labels.length * 10), title: "action units (probability)" });
  const LEFT = 46, RIGHT = 8, HEAD = 16, GAP = 10, AXIS = 16;
  const total = lanes.reduce((a, l) => a + HEAD + l.height + GAP, 0) + AXIS;
  const canvas = h("canvas", { class: "timeline", "aria-label": `timeline of face track ${tr.track_id}` });
  const cursor = h("div", { class: "cursor" });
  const wrap = h("div", { class: "timeline-wrap", "data-track": tr.track_id }, canvas, cursor);
  wrap.style.height = `${total}px`;
  cursor.style.bottom = `${AXIS}px`;
  const legend = expr ? h("div", { class: "legend" }, expr.labels.map((l) =>
    h("span", {}, h("i", { style: { background: colourOf(l) } }), l))) : null;
  const regLegend = reg ? h("div", { class: "legend" }, reg.labels.map((l, i) =>
    h("span", {}, h("i", { style: { background: REG_COLOURS[i % REG_COLOURS.length] } }), l))) : null;
  const plots = (f.plots || []).filter((p) => p.track_id === tr.track_id);

  const xOf = (t, width) => LEFT + (width - LEFT - RIGHT) * (t / duration);
  function draw() {
    const width = wrap.clientWidth || 800;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(total * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${total}px`;
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, total);
    const s = tr.series;
    const x0 = LEFT, x1 = width - RIGHT;
    const label = (text, x, y, align, size, colour) => {
      g.font = `${size || 11}px system-ui, sans-serif`;
      g.fillStyle = colour || "#8a94a6";
      g.textAlign = align || "left";
      g.textBaseline = "middle";
      g.fillText(text, x, y);
    };
    let y = 0;
    for (const lane of lanes) {
      label(lane.title, x0 + 6, y + HEAD / 2, "left", 11, "#5c667a");
      y += HEAD;
      g.fillStyle = "#f4f6fa";
      g.fillRect(x0, y, x1 - x0, lane.height);
      if (lane.kind === "expr") {
        g.strokeStyle = "#e3e6ec"; g.lineWidth = 1;
        g.beginPath(); g.moveTo(x0, y + lane.height / 2); g.lineTo(x1, y + lane.height / 2); g.stroke();
        lane.task.labels.forEach((l, k) => line(g, s.t, s[lane.task.columns[k]], (v) => y + lane.height * (1 - v), width, colourOf(l)));
        label("1", x0 - 6, y + 5, "right"); label("0.5", x0 - 6, y + lane.height / 2, "right"); label("0", x0 - 6, y + lane.height - 5, "right");
      } else if (lane.kind === "reg") {
        g.strokeStyle = "#ccd2dc"; g.lineWidth = 1;
        g.beginPath(); g.moveTo(x0, y + lane.height / 2); g.lineTo(x1, y + lane.height / 2); g.stroke();
        lane.task.columns.forEach((c, k) => line(g, s.t, s[c], (v) => y + lane.height * (1 - (Math.max(-1, Math.min(1, v)) + 1) / 2), width,
          REG_COLOURS[k % REG_COLOURS.length]));
        label("+1", x0 - 6, y + 5, "right"); label("0", x0 - 6, y + lane.height / 2, "right"); label("−1", x0 - 6, y + lane.height - 5, "right");
      } else {
        const n = lane.task.labels.length, rowH = lane.height / n;
        for (let i = 0; i < s.t.length; i++) {
          const xa = xOf(s.t[i], width);
          const xb = Math.min(x1, i + 1 < s.t.length ? xOf(s.t[i + 1], width) : xa + (x1 - x0) / Math.max(1, s.t.length));
          lane.task.columns.forEach((c, k) => {
            const v = s[c][i];
            g.fillStyle = v === null ? "#e9ecf1" : heat(v);
            g.fillRect(xa, y + k * rowH, Math.max(1, xb - xa + 0.6), rowH + 0.5);
          });
        }
        if (rowH >= 8) lane.task.labels.forEach((l, k) => label(auTitle(l), x0 - 6, y + (k + 0.5) * rowH, "right", 9));
      }
      y += lane.height + GAP;
    }
    const step = niceStep(duration);
    g.fillStyle = "#b8c0cc";
    for (let t = 0; t <= duration + 1e-9; t += step) {
      const x = xOf(t, width);
      g.fillRect(x, y - GAP, 1, 4);
      label(`${+t.toFixed(2)} s`, x, y - GAP + 12, t === 0 ? "left" : "center", 10);
    }
  }
  function line(g, ts, vs, yOf, width, colour) {
    g.strokeStyle = colour; g.lineWidth = 1.6; g.lineJoin = "round"; g.beginPath();
    let pen = false;
    for (let i = 0; i < ts.length; i++) {
      const v = vs[i];
      if (v === null) { pen = false; continue; }
      const x = xOf(ts[i], width), yy = yOf(v);
      if (pen) g.lineTo(x, yy); else { g.moveTo(x, yy); pen = true; }
    }
    g.stroke();
  }
  state.cursors.push((t) => { cursor.style.left = `${xOf(t, wrap.clientWidth || 800)}px`; });
  let dragging = false;
  const at = (e) => {
    const rect = wrap.getBoundingClientRect();
    return Math.max(0, Math.min(duration, ((e.clientX - rect.left) - LEFT) / (rect.width - LEFT - RIGHT) * duration));
  };
  wrap.addEventListener("pointerdown", (e) => {
    dragging = true;
    wrap.setPointerCapture(e.pointerId);
    if (state.track !== tr) {
      state.track = tr;
      const pick = wrap.closest(".file").querySelector(".track-pick");
      if (pick) pick.value = String(tr.track_id);
    }
    seek(at(e), true);
  });
  wrap.addEventListener("pointermove", (e) => { if (dragging) seek(at(e), true); });
  wrap.addEventListener("pointerup", () => { dragging = false; });
  new ResizeObserver(() => { draw(); cursor.style.left = `${xOf(state.t, wrap.clientWidth || 800)}px`; }).observe(wrap);
  return h("div", { class: "track-timeline" },
    h("div", { class: "track-title" }, h("strong", { text: `Face track ${tr.track_id}` }),
      h("span", { class: "muted", text: `${tr.rows} frames · ${seconds(tr.start)} – ${seconds(tr.end)}` }),
      plots.map((p) => h("a", { class: "small-link", href: fileUrl(p.url), download: p.url }, "timeline PNG"))),
    h("div", { class: "legends" }, legend, regLegend, au ? h("div", { class: "legend heat-legend" }, "AU probability 0",
      h("i", { class: "ramp" }), "1") : null),
    wrap);
}

function niceStep(duration) {
  const raw = duration / 8;
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

function heat(v) {  // viridis-like ramp for AU probabilities
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.max(0, Math.min(1, v)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

document.addEventListener("DOMContentLoaded", main);
