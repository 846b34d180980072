// Section 5b: the registered models with their metrics and benchmarks side by side (a chart), and the active
// model per purpose with its history: set active, roll back.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { gql } from "../api.js";
import { Bars } from "../charts.js";
import { Action, ErrorText, fmt, useQuery } from "../ui.js";
import { Jobs } from "./jobs.js";

const MODELS = `{ models { id name provider baseModel providerModelId fineTuned status shutdownAt createdAt metrics
  dataset { name version } benchmarks { jsonValidRate planExactMatch stepF1 latencyP50Ms costUsd exampleCount
    dataset { name version } } } }`;
const ACTIVE = `query($purpose: String!) { activeModel(purpose: $purpose) { purpose since model { id name }
  fallbacks { name } history(first: 10) { id at changedBy reason rollback model { name } previous { name } } } }`;
const SET = `mutation($id: ID!, $purpose: String!, $reason: String) { setActiveModel(modelId: $id, purpose: $purpose, reason: $reason) { since } }`;
const ROLLBACK = `mutation($purpose: String!, $reason: String) { rollbackActiveModel(purpose: $purpose, reason: $reason) { since } }`;

const metric = (metrics, key) => (metrics && metrics[key] !== undefined ? metrics[key] : null);

function Active({ purpose, refresh, changed }) {
  const active = useQuery(ACTIVE, { purpose }, `${purpose}#${refresh}`);
  const [reason, setReason] = useState("");
  const now = active.data && active.data.activeModel;
  return html`<div role="region" aria-label="Active model">
    <p data-testid="active">${now ? html`Active for <strong>${purpose}</strong>: <strong>${now.model.name}</strong>${
      ` since ${fmt.when(now.since)}; falls back to ${now.fallbacks.map((f) => f.name).join(", ") || "nothing"}`}` : `No active model for ${purpose} yet.`}</p>
    <div class="row wrap">
      <label>Reason <input value=${reason} onInput=${(e) => setReason(e.target.value)} /></label>
      <${Action} disabled=${!now} run=${async () => { await gql(ROLLBACK, { purpose, reason: reason || null }); changed(); }}>Roll back<//>
    </div>
    <${ErrorText} error=${active.error} />
    ${now && html`<table class="history"><thead><tr><th>When</th><th>Model</th><th>Previous</th><th>By</th><th>Why</th></tr></thead>
      <tbody>${now.history.map((h) => html`<tr key=${h.id}><td>${fmt.when(h.at)}</td><td>${h.model.name}${h.rollback ? " (rollback)" : ""}</td>
        <td>${h.previous ? h.previous.name : "—"}</td><td>${h.changedBy}</td><td>${h.reason || ""}</td></tr>`)}</tbody></table>`}
  </div>`;
}

export function JobsAndModels({ refresh, changed }) {
  const models = useQuery(MODELS, {}, refresh);
  const [purpose, setPurpose] = useState("orchestrator");
  const all = models.data ? models.data.models : [];
  const benchmarked = all.filter((m) => m.benchmarks.length > 0);
  const latest = (m) => m.benchmarks[m.benchmarks.length - 1];
  return html`<section class="card" aria-labelledby="jobs-title">
    <h2 id="jobs-title">Jobs & models</h2>
    <${Jobs} onFinished=${changed} />
    <h3>Models</h3>
    <label>Purpose <input value=${purpose} onChange=${(e) => setPurpose(e.target.value || "orchestrator")} /></label>
    <${Active} purpose=${purpose} refresh=${refresh} changed=${changed} />
    <${ErrorText} error=${models.error} />
    <table class="models">
      <thead><tr><th>Model</th><th>Provider</th><th>Base</th><th>Trained on</th><th>Train loss</th><th>Valid loss</th>
        <th>Plan match</th><th>Step F1</th><th>JSON valid</th><th>p50 latency</th><th>Cost</th><th></th></tr></thead>
      <tbody>${all.map((m) => { const b = latest(m) || {}; return html`<tr key=${m.id}>
        <td>${m.name}<br /><code class="muted">${m.providerModelId}</code></td><td>${m.provider}</td><td>${m.baseModel}</td>
        <td>${m.dataset ? `${m.dataset.name} v${m.dataset.version}` : "—"}</td>
        <td>${fmt.num(metric(m.metrics, "trainLoss"), 3)}</td><td>${fmt.num(metric(m.metrics, "validLoss"), 3)}</td>
        <td>${fmt.pct(b.planExactMatch)}</td><td>${fmt.pct(b.stepF1)}</td><td>${fmt.pct(b.jsonValidRate)}</td>
        <td>${b.latencyP50Ms === undefined ? "—" : `${Math.round(b.latencyP50Ms)} ms`}</td><td>${fmt.usd(b.costUsd)}</td>
        <td><${Action} label=${`Make ${m.name} active`} disabled=${m.status !== "READY"}
          run=${async () => { await gql(SET, { id: m.id, purpose, reason: "set in the dashboard" }); changed(); }}>Set active<//></td>
      </tr>`; })}</tbody>
    </table>
    ${benchmarked.length > 0 && html`<${Bars} title="Benchmarks (latest per model)" max=${1} format=${fmt.pct}
      labels=${benchmarked.map((m) => m.name)} series=${[
        { name: "plan exact match", values: benchmarked.map((m) => latest(m).planExactMatch) },
        { name: "step F1", values: benchmarked.map((m) => latest(m).stepF1) },
        { name: "JSON valid", values: benchmarked.map((m) => latest(m).jsonValidRate) }]} />`}
  </section>`;
}
