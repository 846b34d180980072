// Small shared pieces: data hooks, formatting, and the components every section uses.
import { html } from "htm/preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { gql, subscribe } from "./api.js";

/** Run a query whenever `key` changes (null: skip); {data, error, loading, reload}. Stale answers are dropped. */
export function useQuery(query, variables, key) {
  const [state, setState] = useState({ data: null, error: null, loading: key !== null });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    if (key === null) return;
    const call = ++latest.current;
    setState((old) => ({ ...old, loading: true }));
    gql(query, variables).then(
      (data) => call === latest.current && setState({ data, error: null, loading: false }),
      (error) => call === latest.current && setState({ data: null, error, loading: false }),
    );
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced(value, ms) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value]);
  return settled;
}

/** A job followed live over jobProgress (its state now, then each change); null before the first answer. */
export function useJob(id, fields) {
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setJob(null);
    if (!id) return;
    const query = `subscription($id: ID!) { jobProgress(id: $id) { id status progress message error ${fields} } }`;
    return subscribe(query, { id }, { next: (data) => setJob(data.jobProgress), error: setError });
  }, [id]);
  return { job, error };
}

export const FINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];

export const fmt = {
  int: (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US")),
  num: (n, digits = 2) => (n === null || n === undefined ? "—" : Number(n).toFixed(digits)),
  pct: (n) => (n === null || n === undefined ? "—" : `${(n * 100).toFixed(1)}%`),
  usd: (n) => (n === null || n === undefined ? "—" : `$${Number(n).toFixed(2)}`),
  when: (iso) => (iso ? new Date(iso).toLocaleString("en-GB", { timeZone: "UTC" }) + " UTC" : "—"),
  bytes: (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`),
};

export function Json({ value, label }) {
  return html`<figure class="json">
    <figcaption>${label}</figcaption>
    <pre tabindex="0">${value === null || value === undefined ? "null" : JSON.stringify(value, null, 2)}</pre>
  </figure>`;
}

export function ProgressBar({ value, label }) {
  const percent = Math.round((value || 0) * 100);
  return html`<div class="progress" role="progressbar" aria-label=${label} aria-valuemin="0" aria-valuemax="100"
    aria-valuenow=${percent}>
    <div class="bar" style=${`width: ${percent}%`}></div><span>${percent}%</span>
  </div>`;
}

export function ErrorText({ error }) {
  return error ? html`<p class="error" role="alert">${error.message || String(error)}</p>` : null;
}

/** A button that runs an async action, shows it is busy, and reports its error beside it. */
export function Action({ run, children, disabled, kind = "", label }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const click = async () => {
    setBusy(true);
    setError(null);
    try {
      await run();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action">
    <button type="button" class=${kind} onClick=${click} disabled=${disabled || busy} aria-label=${label}>${children}</button>
    <${ErrorText} error=${error} />
  </span>`;
}

export function Section({ title, children, id }) {
  return html`<section class="card" aria-labelledby=${id}>
    <h2 id=${id}>${title}</h2>
    ${children}
  </section>`;
}
