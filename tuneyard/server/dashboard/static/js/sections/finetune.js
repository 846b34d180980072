// Section 4: pick a provider and base model (with what each can do today, and its dates), a dataset version and
// hyperparameters; see the estimate before Start; then follow the job with a live loss chart.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { gql } from "../api.js";
import { Lines } from "../charts.js";
import { Action, ErrorText, ProgressBar, Section, fmt, useJob, useQuery } from "../ui.js";
import { DATASETS } from "./datasets.js";

const PROVIDERS = `{ providers { provider configured canFineTune fineTuneClosesAt exportFormat notes
  baseModels { name canFineTune contextTokens trainingPricePerMillionTokens pricesAsOf shutdownAt } } }`;
const ESTIMATE = `query($input: FineTuneInput!) { fineTuneEstimate(input: $input) { trainExamples validationExamples
  trainTokens validationTokens epochs billableTokens estimatedCostUsd pricesAsOf estimatedSeconds warnings blockers } }`;
const START = `mutation($input: FineTuneInput!) { startFineTune(input: $input) { id } }`;

function ProviderFacts({ info }) {
  return html`<div class="facts" aria-label=${`${info.provider} facts`} role="group">
    <p><strong>${info.provider}</strong>: ${[
      info.configured ? "configured" : "not configured", info.canFineTune ? "can fine-tune today" : "cannot fine-tune today",
      info.fineTuneClosesAt && `no new fine-tunes after ${info.fineTuneClosesAt}`, info.exportFormat && `trains on ${info.exportFormat}`,
    ].filter(Boolean).join(" · ")}</p>
    ${info.notes.length > 0 && html`<ul>${info.notes.map((note) => html`<li>${note}</li>`)}</ul>`}
  </div>`;
}

function Estimate({ estimate }) {
  return html`<div class="estimate" role="region" aria-label="Estimate">
    <dl class="grid">
      <dt>Examples</dt><dd>${fmt.int(estimate.trainExamples)} train · ${fmt.int(estimate.validationExamples)} validation</dd>
      <dt>Tokens</dt><dd>${fmt.int(estimate.trainTokens)} train · ${fmt.int(estimate.validationTokens)} validation</dd>
      <dt>Billable</dt><dd>${fmt.int(estimate.billableTokens)} tokens (${estimate.epochs} epochs)</dd>
      <dt>Cost</dt><dd>${fmt.usd(estimate.estimatedCostUsd)}${estimate.pricesAsOf && ` (prices of ${estimate.pricesAsOf})`}</dd>
      <dt>Duration</dt><dd>${estimate.estimatedSeconds === null ? "—" : `about ${Math.ceil(estimate.estimatedSeconds / 60)} min`}</dd>
    </dl>
    ${estimate.warnings.map((w) => html`<p class="warning">Warning: ${w}</p>`)}
    ${estimate.blockers.map((b) => html`<p class="error">Blocked: ${b}</p>`)}
  </div>`;
}

function Follow({ jobId }) {
  const { job, error } = useJob(jobId, "result");
  const metrics = (job && job.result && job.result.metrics) || [];
  return html`<div class="follow" role="region" aria-label="Fine-tune progress">
    <${ErrorText} error=${error} />
    ${job && html`<${ProgressBar} label="Fine-tune progress" value=${job.progress} />
      <p role="status">Job ${job.id}: <strong>${job.status}</strong>${job.message ? ` · ${job.message}` : ""}${job.error ? ` · ${job.error}` : ""}</p>`}
    ${metrics.length > 0 && html`<${Lines} title="Loss" x=${metrics.map((m) => m.step)} series=${[
      { label: "train loss", values: metrics.map((m) => m.trainLoss) },
      { label: "valid loss", values: metrics.map((m) => m.validLoss) }]} />`}
  </div>`;
}

export function FineTuning({ changed }) {
  const providers = useQuery(PROVIDERS, {}, "providers");
  const datasets = useQuery(DATASETS, {}, "datasets");
  const [form, setForm] = useState({ provider: "", baseModel: "", datasetId: "", epochs: "", learningRate: "", batchSize: "", modelName: "" });
  const [estimate, setEstimate] = useState(null);
  const [jobId, setJobId] = useState(null);
  const all = providers.data ? providers.data.providers : [];
  const info = all.find((p) => p.provider === form.provider);
  const set = (key) => (e) => { setForm({ ...form, [key]: e.target.value, ...(key === "provider" ? { baseModel: "" } : {}) }); setEstimate(null); };
  const number = (value) => (value === "" ? null : Number(value));
  const input = () => ({ datasetId: form.datasetId, provider: form.provider, baseModel: form.baseModel,
    modelName: form.modelName || null, epochs: number(form.epochs), learningRate: number(form.learningRate),
    batchSize: number(form.batchSize) });
  const ready = form.provider && form.baseModel && form.datasetId;
  return html`<${Section} title="Fine-tuning" id="finetune-title">
    <${ErrorText} error=${providers.error || datasets.error} />
    <form class="row wrap" aria-label="Fine-tune" onSubmit=${(e) => e.preventDefault()}>
      <label>Provider <select value=${form.provider} onChange=${set("provider")}><option value="">choose…</option>
        ${all.map((p) => html`<option value=${p.provider}>${p.provider}${p.canFineTune ? "" : " (cannot fine-tune)"}</option>`)}</select></label>
      <label>Base model <select value=${form.baseModel} onChange=${set("baseModel")}><option value="">choose…</option>
        ${(info ? info.baseModels : []).map((m) => html`<option value=${m.name} disabled=${!m.canFineTune}>${m.name}</option>`)}</select></label>
      <label>Dataset version <select value=${form.datasetId} onChange=${set("datasetId")}><option value="">choose…</option>
        ${(datasets.data ? datasets.data.datasets : []).map((d) => html`<option value=${d.id}>${d.name} v${d.version} (${d.exampleCount})</option>`)}</select></label>
      <label>Epochs <input type="number" min="1" max="50" value=${form.epochs} onInput=${set("epochs")} /></label>
      <label>Learning rate <input type="number" step="any" value=${form.learningRate} onInput=${set("learningRate")} /></label>
      <label>Batch size <input type="number" min="1" value=${form.batchSize} onInput=${set("batchSize")} /></label>
      <label>Model name <input value=${form.modelName} onInput=${set("modelName")} /></label>
    </form>
    ${info && html`<${ProviderFacts} info=${info} />`}
    ${info && html`<table class="base-models"><thead><tr><th>Base model</th><th>Fine-tunes</th><th>Context</th>
        <th>Training $/M tokens</th><th>Prices as of</th><th>Shuts down</th></tr></thead>
      <tbody>${info.baseModels.map((m) => html`<tr><td>${m.name}</td><td>${m.canFineTune ? "yes" : "no"}</td>
        <td>${fmt.int(m.contextTokens)}</td><td>${fmt.num(m.trainingPricePerMillionTokens)}</td><td>${m.pricesAsOf || "—"}</td>
        <td>${m.shutdownAt || "—"}</td></tr>`)}</tbody></table>`}
    <div class="row">
      <${Action} run=${async () => setEstimate((await gql(ESTIMATE, { input: input() })).fineTuneEstimate)} disabled=${!ready}>Estimate<//>
      <${Action} kind="primary" disabled=${!estimate || estimate.blockers.length > 0}
        run=${async () => { setJobId((await gql(START, { input: input() })).startFineTune.id); changed(); }}>Start fine-tune<//>
    </div>
    ${estimate && html`<${Estimate} estimate=${estimate} />`}
    ${jobId && html`<${Follow} key=${jobId} jobId=${jobId} />`}
  <//>`;
}
