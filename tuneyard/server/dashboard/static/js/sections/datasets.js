// Section 3: dataset versions per name; create one from the filter, diff two, export with live progress and
// download, make one current (rollback), delete.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { download, gql } from "../api.js";
import { Action, ErrorText, ProgressBar, Section, fmt, useJob, useQuery } from "../ui.js";
import { UsingLine, useStats } from "./preview.js";

export const DATASETS = `{ datasets { id name version description exampleCount trainCount validationCount
  validationFraction seed avgQualityScore contentHash isCurrent createdAt } }`;
const CREATE = `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id name version exampleCount } }`;
const CURRENT = `mutation($id: ID!) { setCurrentDataset(id: $id) { id } }`;
const DELETE = `mutation($id: ID!) { deleteDataset(id: $id) { id } }`;
const EXPORT = `mutation($id: ID!, $format: ExportFormat!) { exportDataset(id: $id, format: $format) { id } }`;
const FILES = `query($id: ID!) { dataset(id: $id) { exports { id format split lineCount sizeBytes sha256 downloadUrl createdAt } } }`;
const DIFF = `query($base: ID!, $head: ID!) { datasetDiff(base: $base, head: $head) {
  addedCount removedCount unchangedCount changedCount
  added(first: 20) { nodes { executionId } } removed(first: 20) { nodes { executionId } }
  changed(first: 20) { nodes { executionId } } } }`;
const FORMATS = ["OPENAI_CHAT", "ANTHROPIC_BEDROCK", "GEMINI_VERTEX", "SHAREGPT", "ALPACA", "RAW"];

function Create({ where, changed }) {
  const stats = useStats(where);
  const [form, setForm] = useState({ name: "", description: "", validationFraction: "0.2", seed: "0" });
  const [made, setMade] = useState(null);
  const field = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const create = async () => {
    const input = { name: form.name.trim(), where, description: form.description || null,
      validationFraction: Number(form.validationFraction), seed: Number(form.seed) };
    const dataset = (await gql(CREATE, { input })).createDataset;
    setMade(dataset);
    changed();
  };
  return html`<form class="row wrap" aria-label="New version" onSubmit=${(e) => e.preventDefault()}>
    <label>Name <input value=${form.name} required onInput=${field("name")} /></label>
    <label>Description <input value=${form.description} onInput=${field("description")} /></label>
    <label>Validation fraction <input type="number" min="0" max="0.5" step="0.05" value=${form.validationFraction}
      onInput=${field("validationFraction")} /></label>
    <label>Seed <input type="number" value=${form.seed} onInput=${field("seed")} /></label>
    <${Action} kind="primary" run=${create} disabled=${!form.name.trim()}>Create version from filter<//>
    <${UsingLine} stats=${stats} />
    ${made && html`<p class="done" role="status">Created ${made.name} v${made.version} with ${fmt.int(made.exampleCount)} examples.</p>`}
  </form>`;
}

function Exporter({ dataset }) {
  const [format, setFormat] = useState("OPENAI_CHAT");
  const [jobId, setJobId] = useState(null);
  const { job, error } = useJob(jobId, "");
  const finished = job && job.status === "SUCCEEDED";
  const files = useQuery(FILES, { id: dataset.id }, finished ? jobId : null);
  const start = async () => setJobId((await gql(EXPORT, { id: dataset.id, format })).exportDataset.id);
  // Exports come oldest first: keep the newest file of each split in this format.
  const newest = files.data ? Object.fromEntries(files.data.dataset.exports.filter((e) => e.format === format).map((e) => [e.split, e])) : {};
  const exportsDone = Object.values(newest);
  return html`<div class="exporter" aria-label=${`Export ${dataset.name} v${dataset.version}`} role="group">
    <h3>Export ${dataset.name} v${dataset.version}</h3>
    <div class="row wrap">
      <label>Format <select value=${format} onChange=${(e) => setFormat(e.target.value)}>
        ${FORMATS.map((f) => html`<option value=${f}>${f}</option>`)}</select></label>
      <${Action} kind="primary" run=${start}>Export<//>
    </div>
    ${job && html`<${ProgressBar} label="Export progress" value=${job.progress} />
      <p class="muted" role="status">${job.status}${job.message ? ` · ${job.message}` : ""}${job.error ? ` · ${job.error}` : ""}</p>`}
    <${ErrorText} error=${error || files.error} />
    ${exportsDone.map((file) => html`<p><${Action} label=${`Download ${file.split || "all"}`}
        run=${() => download(file.downloadUrl, `${dataset.name}-v${dataset.version}-${file.format.toLowerCase()}${file.split ? "-" + file.split.toLowerCase() : ""}.jsonl`)}>
        Download ${file.split ? file.split.toLowerCase() : "whole version"}<//>
      <span class="muted"> ${fmt.int(file.lineCount)} lines · ${fmt.bytes(file.sizeBytes)} · sha256 ${file.sha256.slice(0, 12)}</span></p>`)}
  </div>`;
}

function Diff({ versions }) {
  const [pair, setPair] = useState({ base: "", head: "" });
  const ready = pair.base && pair.head;
  const diff = useQuery(DIFF, pair, ready ? `${pair.base}:${pair.head}` : null);
  const d = diff.data && diff.data.datasetDiff;
  const pick = (key) => html`<label>${key === "base" ? "Base" : "Head"} <select value=${pair[key]}
      onChange=${(e) => setPair({ ...pair, [key]: e.target.value })}>
    <option value="">choose…</option>${versions.map((v) => html`<option value=${v.id}>${v.name} v${v.version}</option>`)}
  </select></label>`;
  const names = (connection) => connection.nodes.map((n) => n.executionId).join(", ") || "—";
  return html`<div role="group" aria-label="Diff">
    <h3>Diff two versions</h3>
    <div class="row wrap">${pick("base")}${pick("head")}</div>
    <${ErrorText} error=${diff.error} />
    ${d && html`<p data-testid="diff">added ${fmt.int(d.addedCount)} · removed ${fmt.int(d.removedCount)} ·
        unchanged ${fmt.int(d.unchangedCount)} (changed ${fmt.int(d.changedCount)})</p>
      <dl class="diff-lists"><dt>Added</dt><dd>${names(d.added)}</dd><dt>Removed</dt><dd>${names(d.removed)}</dd>
        <dt>Changed</dt><dd>${names(d.changed)}</dd></dl>`}
  </div>`;
}

export function Datasets({ where, changed, refresh }) {
  const list = useQuery(DATASETS, {}, refresh);
  const [selected, setSelected] = useState(null);
  const versions = list.data ? list.data.datasets : [];
  const chosen = versions.find((v) => v.id === selected);
  return html`<${Section} title="Datasets" id="datasets-title">
    <h3>New version from the current filter</h3>
    <${Create} where=${where} changed=${changed} />
    <${ErrorText} error=${list.error} />
    <table class="datasets">
      <thead><tr><th>Name</th><th>Version</th><th>Examples</th><th>Train / validation</th><th>Avg quality</th>
        <th>Content hash</th><th>Created</th><th></th></tr></thead>
      <tbody>${versions.map((v) => html`<tr key=${v.id} class=${v.id === selected ? "selected" : ""}>
        <td>${v.name}${v.isCurrent && html` <span class="badge">current</span>`}</td><td>v${v.version}</td>
        <td>${fmt.int(v.exampleCount)}</td><td>${fmt.int(v.trainCount)} / ${fmt.int(v.validationCount)}</td>
        <td>${fmt.num(v.avgQualityScore)}</td><td><code title=${v.contentHash}>${v.contentHash.slice(0, 12)}</code></td>
        <td>${fmt.when(v.createdAt)}</td>
        <td class="actions">
          <button type="button" aria-label=${`Export ${v.name} v${v.version}`} onClick=${() => setSelected(v.id)}>Export…</button>
          ${!v.isCurrent && html`<${Action} label=${`Make ${v.name} v${v.version} current`}
            run=${async () => { await gql(CURRENT, { id: v.id }); changed(); }}>Make current<//>`}
          <${Action} label=${`Delete ${v.name} v${v.version}`} kind="danger"
            run=${async () => { if (confirm(`Delete ${v.name} v${v.version}? Its files and history stay.`)) {
              await gql(DELETE, { id: v.id }); changed(); } }}>Delete<//>
        </td></tr>`)}</tbody>
    </table>
    ${chosen && html`<${Exporter} key=${chosen.id} dataset=${chosen} />`}
    <${Diff} versions=${versions} />
  <//>`;
}
