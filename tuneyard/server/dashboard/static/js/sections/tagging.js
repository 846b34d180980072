// Section 2: tag, untag, archive and restore everything the filter matches (the count shown before confirming),
// the tag breakdown, and the tag-operation history with Undo.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { gql } from "../api.js";
import { Action, ErrorText, Section, fmt, useQuery } from "../ui.js";
import { UsingLine, useStats } from "./preview.js";

const BREAKDOWN = `{ stats { totalCount byTag { key count } } }`;
const HISTORY = `{ tagOperations(first: 20) { id added removed affectedCount note createdAt undoneAt purgedCount } }`;
const TAG = `mutation($where: ExampleFilter!, $add: [String!], $remove: [String!], $note: String) {
  tagExamples(where: $where, add: $add, remove: $remove, note: $note) { id affectedCount } }`;
const UNDO = `mutation($id: ID!) { undoTagOperation(id: $id) { id undoneAt } }`;
const ARCHIVE = `mutation($where: ExampleFilter!) { archiveExamples(where: $where) { affectedCount } }`;
const RESTORE = `mutation($where: ExampleFilter!) { restoreExamples(where: $where) { affectedCount } }`;
const COUNT = `query($filter: ExampleFilter) { stats(filter: $filter) { count } }`;

const words = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

/** A change proposed, its count fetched, then confirmed or dropped. */
function Confirm({ pending, cancel }) {
  return html`<div class="confirm" role="alertdialog" aria-label="Confirm">
    <p>${pending.text}</p>
    <${Action} kind="primary" run=${pending.run}>Confirm<//>
    <button type="button" onClick=${cancel}>Cancel</button>
  </div>`;
}

export function Tagging({ where, changed, refresh }) {
  const stats = useStats(where, refresh);
  const breakdown = useQuery(BREAKDOWN, {}, refresh);
  const history = useQuery(HISTORY, {}, refresh);
  const [form, setForm] = useState({ add: "", remove: "", note: "" });
  const [pending, setPending] = useState(null);
  const [done, setDone] = useState("");
  const [error, setError] = useState(null);

  const propose = async (text, mutation, variables, summary) => {
    setError(null);
    setDone("");
    const filter = mutation === RESTORE ? { ...where, archived: true } : where;
    const count = (await gql(COUNT, { filter })).stats.count;
    setPending({
      text: text(count),
      run: async () => {
        const data = await gql(mutation, variables);
        setPending(null);
        setDone(summary(Object.values(data)[0]));
        changed();
      },
    });
  };
  const tag = () => {
    const add = words(form.add), remove = words(form.remove);
    if (!add.length && !remove.length) return setError(new Error("name a tag to add or remove"));
    const what = [add.length && `add ${add.join(", ")}`, remove.length && `remove ${remove.join(", ")}`].filter(Boolean).join(" and ");
    return propose((n) => `${what[0].toUpperCase()}${what.slice(1)} on the ${fmt.int(n)} matching examples?`, TAG,
      { where, add, remove, note: form.note || null }, (r) => `Tags changed on ${fmt.int(r.affectedCount)} examples.`);
  };
  const byTag = breakdown.data ? breakdown.data.stats.byTag : [];
  const operations = history.data ? history.data.tagOperations : [];
  return html`<${Section} title="Tagging" id="tagging-title">
    <${UsingLine} stats=${stats} />
    <p class="breakdown" data-testid="breakdown"><strong>Tags:</strong>${" "}
      ${byTag.length ? byTag.map((t) => `${t.key}: ${fmt.int(t.count)}`).join(" | ") : "no tags yet"}</p>
    <form class="row wrap" onSubmit=${(e) => { e.preventDefault(); tag().catch(setError); }}>
      <label>Add tags <input value=${form.add} placeholder="reviewed, prod" onInput=${(e) => setForm({ ...form, add: e.target.value })} /></label>
      <label>Remove tags <input value=${form.remove} onInput=${(e) => setForm({ ...form, remove: e.target.value })} /></label>
      <label>Note <input value=${form.note} onInput=${(e) => setForm({ ...form, note: e.target.value })} /></label>
      <button type="submit">Tag matching examples…</button>
    </form>
    <div class="row wrap">
      <button type="button" onClick=${() => propose((n) => `Archive the ${fmt.int(n)} matching examples? They leave every view and new dataset, and can be restored.`,
        ARCHIVE, { where }, (r) => `Archived ${fmt.int(r.affectedCount)} examples.`).catch(setError)}>Archive matching…</button>
      <button type="button" onClick=${() => propose((n) => `Restore the ${fmt.int(n)} archived examples that match?`,
        RESTORE, { where }, (r) => `Restored ${fmt.int(r.affectedCount)} examples.`).catch(setError)}>Restore archived matching…</button>
    </div>
    ${pending && html`<${Confirm} pending=${pending} cancel=${() => setPending(null)} />`}
    ${done && html`<p class="done" role="status">${done}</p>`}
    <${ErrorText} error=${error || breakdown.error || history.error} />
    <h3>History</h3>
    <table class="history">
      <thead><tr><th>When</th><th>Added</th><th>Removed</th><th>Examples</th><th>Note</th><th></th></tr></thead>
      <tbody>${operations.map((op) => html`<tr key=${op.id}>
        <td>${fmt.when(op.createdAt)}</td><td>${op.added.join(", ")}</td><td>${op.removed.join(", ")}</td>
        <td>${fmt.int(op.affectedCount)}</td><td>${op.note}</td>
        <td>${op.undoneAt ? html`<span class="muted">undone</span>` : op.purgedCount ? html`<span class="muted">purged since</span>`
          : html`<${Action} label=${`Undo ${op.added.concat(op.removed).join(", ")}`}
              run=${async () => { await gql(UNDO, { id: op.id }); changed(); }}>Undo<//>`}</td></tr>`)}</tbody>
    </table>
  <//>`;
}
