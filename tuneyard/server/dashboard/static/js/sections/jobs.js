// Section 5a: every job, live (jobUpdates), with progress bars, its latest events, and cancel.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { gql, subscribe } from "../api.js";
import { Action, ErrorText, FINAL, ProgressBar, fmt } from "../ui.js";

const FIELDS = `id kind status progress message error createdAt finishedAt events(last: 5) { seq at status progress message }`;
const JOBS = `{ jobs(first: 30) { nodes { ${FIELDS} } } }`;
const UPDATES = `subscription { jobUpdates { ${FIELDS} } }`;
const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) { id status } }`;

/** The latest jobs, newest first, kept current by jobUpdates; `onFinished` hears each job that ends. */
function useLiveJobs(onFinished) {
  const [jobs, setJobs] = useState([]);
  const [error, setError] = useState(null);
  const finished = useRef(onFinished);
  finished.current = onFinished;
  useEffect(() => {
    let live = true;
    // Subscribe first, then read the list: a change in between is not lost, and an update wins over the list.
    const stop = subscribe(UPDATES, {}, {
      next: ({ jobUpdates: job }) => {
        setJobs((old) => [job, ...old.filter((j) => j.id !== job.id)].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, 30));
        if (FINAL.includes(job.status)) finished.current(job);
      },
      error: setError,
    });
    gql(JOBS).then(
      (data) => live && setJobs((old) => [...old, ...data.jobs.nodes.filter((j) => !old.some((o) => o.id === j.id))]
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))),
      setError,
    );
    return () => { live = false; stop(); };
  }, []);
  return { jobs, error };
}

export function Jobs({ onFinished }) {
  const { jobs, error } = useLiveJobs(onFinished);
  return html`<div role="region" aria-label="Jobs">
    <h3>Jobs</h3>
    <${ErrorText} error=${error} />
    ${jobs.length === 0 && html`<p class="muted">No jobs yet.</p>`}
    <ul class="jobs">${jobs.map((job) => html`<li key=${job.id} data-job=${job.id} data-status=${job.status}>
      <div class="row wrap">
        <strong>${job.kind} #${job.id}</strong><span class=${`status ${job.status.toLowerCase()}`}>${job.status}</span>
        <${ProgressBar} label=${`Job ${job.id} progress`} value=${job.progress} />
        ${!FINAL.includes(job.status) && job.status !== "CANCELLING" && html`<${Action} label=${`Cancel job ${job.id}`}
          run=${() => gql(CANCEL, { id: job.id })}>Cancel<//>`}
      </div>
      <p class="muted">${job.message}${job.error ? ` · ${job.error}` : ""}</p>
      <details><summary>Events</summary><ol>${job.events.map((e) => html`<li key=${e.seq}>
        ${fmt.when(e.at)} · ${e.status} · ${fmt.pct(e.progress)} ${e.message || ""}</li>`)}</ol></details>
    </li>`)}</ul>
  </div>`;
}
