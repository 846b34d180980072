// The example filter every curation section works on: read from and written to the URL, turned into the API's
// ExampleFilter, and edited in one panel.
import { html } from "htm/preact";
import { navigate } from "./router.js";
import { useQuery } from "./ui.js";

const list = (value) => (value ? value.split(",").filter(Boolean) : []);

/** The filter as the URL holds it. */
export function readFilter(params) {
  return {
    from: params.get("from") || "",
    to: params.get("to") || "",
    qmin: Number(params.get("qmin") || 0),
    qmax: Number(params.get("qmax") ?? 1),
    intents: list(params.get("intent")),
    platforms: list(params.get("platform")),
    success: params.get("success") || "",
    include: list(params.get("tags")),
    exclude: list(params.get("notags")),
    text: params.get("q") || "",
  };
}

function write(filter) {
  navigate({
    from: filter.from, to: filter.to,
    qmin: filter.qmin > 0 ? filter.qmin : "", qmax: filter.qmax < 1 ? filter.qmax : "",
    intent: filter.intents.join(","), platform: filter.platforms.join(","), success: filter.success,
    tags: filter.include.join(","), notags: filter.exclude.join(","), q: filter.text,
  });
}

function nextDay(day) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString();
}

/** The API's ExampleFilter for it; a full quality range leaves out examples without a score no more than no filter. */
export function toExampleFilter(filter) {
  const where = {};
  if (filter.from || filter.to) {
    where.createdAt = {};
    if (filter.from) where.createdAt.gte = `${filter.from}T00:00:00Z`;
    if (filter.to) where.createdAt.lt = nextDay(filter.to);
  }
  if (filter.qmin > 0 || filter.qmax < 1) where.qualityScore = { gte: filter.qmin, lte: filter.qmax };
  if (filter.intents.length) where.intent = { in: filter.intents };
  if (filter.platforms.length) where.platform = { in: filter.platforms };
  if (filter.success) where.success = filter.success === "yes";
  if (filter.include.length || filter.exclude.length) {
    where.tags = {};
    if (filter.include.length) where.tags.containsAll = filter.include;
    if (filter.exclude.length) where.tags.containsNone = filter.exclude;
  }
  if (filter.text.trim()) where.text = filter.text.trim();
  return where;
}

const CHOICES = `{ stats { byIntent { key count } byPlatform { key count } byTag { key count } } }`;

function toggle(values, value, on) {
  return on ? [...values.filter((v) => v !== value), value] : values.filter((v) => v !== value);
}

function Checks({ legend, field, filter, options }) {
  return html`<fieldset>
    <legend>${legend}</legend>
    ${options.length === 0 && html`<p class="muted">none recorded</p>`}
    ${options.map(({ key, count }) => html`<label class="check">
      <input type="checkbox" checked=${filter[field].includes(key)}
        onChange=${(e) => write({ ...filter, [field]: toggle(filter[field], key, e.target.checked) })} />
      ${key} <span class="muted">(${count})</span>
    </label>`)}
  </fieldset>`;
}

function TagChoice({ tag, filter }) {
  const state = filter.include.includes(tag) ? "include" : filter.exclude.includes(tag) ? "exclude" : "";
  const change = (value) => write({
    ...filter,
    include: toggle(filter.include, tag, value === "include"),
    exclude: toggle(filter.exclude, tag, value === "exclude"),
  });
  return html`<label class="tag-choice">${tag}
    <select aria-label=${`Tag ${tag}`} value=${state} onChange=${(e) => change(e.target.value)}>
      <option value="">any</option><option value="include">include</option><option value="exclude">exclude</option>
    </select>
  </label>`;
}

/** The filter's controls; `refresh` changes when tags may have changed, to reload the choices. */
export function FilterPanel({ filter, refresh = 0 }) {
  const choices = useQuery(CHOICES, {}, refresh);
  const stats = choices.data ? choices.data.stats : { byIntent: [], byPlatform: [], byTag: [] };
  const tags = [...new Set([...stats.byTag.map((t) => t.key), ...filter.include, ...filter.exclude])];
  const set = (changes) => write({ ...filter, ...changes });
  return html`<form class="filter card" aria-label="Filter" onSubmit=${(e) => e.preventDefault()}>
    <h2>Filter</h2>
    <div class="row">
      <label>From <input type="date" value=${filter.from} onInput=${(e) => set({ from: e.target.value })} /></label>
      <label>To <input type="date" value=${filter.to} onInput=${(e) => set({ to: e.target.value })} /></label>
    </div>
    <fieldset>
      <legend>Quality ${filter.qmin.toFixed(2)} – ${filter.qmax.toFixed(2)}</legend>
      <label>Minimum quality <input type="range" min="0" max="1" step="0.05" value=${filter.qmin}
        onInput=${(e) => set({ qmin: Math.min(Number(e.target.value), filter.qmax) })} /></label>
      <label>Maximum quality <input type="range" min="0" max="1" step="0.05" value=${filter.qmax}
        onInput=${(e) => set({ qmax: Math.max(Number(e.target.value), filter.qmin) })} /></label>
    </fieldset>
    <${Checks} legend="Intents" field="intents" filter=${filter} options=${stats.byIntent} />
    <${Checks} legend="Platforms" field="platforms" filter=${filter} options=${stats.byPlatform} />
    <label>Success
      <select value=${filter.success} onChange=${(e) => set({ success: e.target.value })}>
        <option value="">any</option><option value="yes">succeeded</option><option value="no">failed</option>
      </select>
    </label>
    <fieldset>
      <legend>Tags</legend>
      ${tags.map((tag) => html`<${TagChoice} tag=${tag} filter=${filter} />`)}
    </fieldset>
    <label>Search requests <input type="search" value=${filter.text} onInput=${(e) => set({ text: e.target.value })} /></label>
    <button type="button" onClick=${() => navigate({ from: "", to: "", qmin: "", qmax: "", intent: "", platform: "",
      success: "", tags: "", notags: "", q: "" })}>Clear filter</button>
  </form>`;
}
