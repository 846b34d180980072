// Section 1: how many examples the filter keeps ("Using X of Y"), their quality histogram, and a keyset-paged
// table whose rows open the full record.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { Bars } from "../charts.js";
import { ErrorText, Json, Section, fmt, useDebounced, useQuery } from "../ui.js";

const STATS = `query($filter: ExampleFilter) { stats(filter: $filter) {
  count totalCount avgQualityScore successRate qualityHistogram(buckets: 10) { lower upper count } } }`;
const PAGE = `query($filter: ExampleFilter, $after: String) { examples(filter: $filter, first: 20, after: $after) {
  nodes { id executionId userRequest intent platform qualityScore success tags createdAt }
  pageInfo { hasNextPage endCursor } } }`;
const ONE = `query($id: ID!) { example(id: $id) { id executionId userRequest intent platform qualityScore success tags
  createdAt modelId businessState executionPlan executionResult } }`;

/** "Using X of Y examples" for `where` (debounced); shared with the tagging and dataset sections. */
export function useStats(where, refresh = 0) {
  const key = useDebounced(JSON.stringify(where), 250);
  return useQuery(STATS, { filter: JSON.parse(key) }, `${key}#${refresh}`);
}

export function UsingLine({ stats }) {
  const data = stats.data && stats.data.stats;
  return html`<p class="using" aria-live="polite" data-testid="using">
    ${data ? html`Using <strong>${fmt.int(data.count)}</strong> of ${fmt.int(data.totalCount)} examples` : "Counting…"}
    ${stats.loading && data && html` <span class="muted">(updating)</span>`}
  </p><${ErrorText} error=${stats.error} />`;
}

function Detail({ id, close }) {
  const found = useQuery(ONE, { id }, id);
  const example = found.data && found.data.example;
  return html`<div class="detail" role="region" aria-label="Example detail">
    <div class="row"><h3>Example ${example ? example.executionId : id}</h3>
      <button type="button" onClick=${close}>Close</button></div>
    <${ErrorText} error=${found.error} />
    ${example && html`<p>${example.userRequest}</p>
      <p class="muted">${[example.intent || "no intent", example.platform || "no platform",
        `quality ${fmt.num(example.qualityScore)}`, example.tags.join(", ") || "no tags", `model ${example.modelId || "—"}`].join(" · ")}</p>
      <div class="json-grid">
        <${Json} label="Business state" value=${example.businessState} />
        <${Json} label="Plan" value=${example.executionPlan} />
        <${Json} label="Result" value=${example.executionResult} />
      </div>`}
  </div>`;
}

function Table({ where }) {
  const key = JSON.stringify(where);
  const [pages, setPages] = useState({ key, cursors: [null] });
  const cursors = pages.key === key ? pages.cursors : [null]; // a new filter starts again from the first page
  const after = cursors[cursors.length - 1];
  const page = useQuery(PAGE, { filter: where, after }, `${key}@${after}`);
  const [open, setOpen] = useState(null);
  const rows = page.data ? page.data.examples.nodes : [];
  const info = page.data && page.data.examples.pageInfo;
  return html`<div>
    <${ErrorText} error=${page.error} />
    <table class="examples">
      <thead><tr><th>Created</th><th>Request</th><th>Intent</th><th>Platform</th><th>Quality</th><th>OK</th><th>Tags</th></tr></thead>
      <tbody>${rows.map((row) => html`<tr key=${row.id} tabindex="0" class=${open === row.id ? "selected" : ""}
          onClick=${() => setOpen(row.id)} onKeyDown=${(e) => e.key === "Enter" && setOpen(row.id)}>
        <td>${fmt.when(row.createdAt)}</td><td class="request">${row.userRequest}</td><td>${row.intent}</td>
        <td>${row.platform}</td><td>${fmt.num(row.qualityScore)}</td><td>${row.success === null ? "—" : row.success ? "yes" : "no"}</td>
        <td>${row.tags.join(", ")}</td></tr>`)}</tbody>
    </table>
    <div class="row pager">
      <button type="button" disabled=${cursors.length === 1}
        onClick=${() => setPages({ key, cursors: cursors.slice(0, -1) })}>Previous page</button>
      <span class="muted">page ${cursors.length}</span>
      <button type="button" disabled=${!info || !info.hasNextPage}
        onClick=${() => setPages({ key, cursors: [...cursors, info.endCursor] })}>Next page</button>
    </div>
    ${open && html`<${Detail} id=${open} close=${() => setOpen(null)} />`}
  </div>`;
}

export function Preview({ where }) {
  const stats = useStats(where);
  const data = stats.data && stats.data.stats;
  const buckets = data ? data.qualityHistogram : [];
  return html`<${Section} title="Filter & preview" id="preview-title">
    <${UsingLine} stats=${stats} />
    ${data && html`<p class="muted">average quality ${fmt.num(data.avgQualityScore)} · success rate ${fmt.pct(data.successRate)}</p>`}
    <${Bars} title="Quality histogram" labels=${buckets.map((b) => b.lower.toFixed(1))}
      series=${[{ name: "examples", values: buckets.map((b) => b.count) }]} />
    <${Table} where=${where} />
  <//>`;
}
