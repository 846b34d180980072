// The dashboard: sign-in, then five sections. Everything goes through the public GraphQL API with the token.
import { html, render } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { gql, session } from "./api.js";
import { FilterPanel, readFilter, toExampleFilter } from "./filter.js";
import { SECTIONS, currentSection, navigate, useParams } from "./router.js";
import { Datasets } from "./sections/datasets.js";
import { FineTuning } from "./sections/finetune.js";
import { JobsAndModels } from "./sections/models.js";
import { Preview } from "./sections/preview.js";
import { Tagging } from "./sections/tagging.js";
import { SignIn } from "./signin.js";

const CURATION = ["filter", "tagging", "datasets"]; // the sections that act on the filter

function Dashboard() {
  const params = useParams();
  const view = currentSection(params);
  const filter = readFilter(params);
  const where = toExampleFilter(filter);
  const [refresh, setRefresh] = useState(0);
  const changed = () => setRefresh((n) => n + 1);
  const body = {
    filter: () => html`<${Preview} where=${where} />`,
    tagging: () => html`<${Tagging} where=${where} refresh=${refresh} changed=${changed} />`,
    datasets: () => html`<${Datasets} where=${where} refresh=${refresh} changed=${changed} />`,
    finetune: () => html`<${FineTuning} changed=${changed} />`,
    jobs: () => html`<${JobsAndModels} refresh=${refresh} changed=${changed} />`,
  }[view];
  return html`<div class="shell">
    <header>
      <strong class="brand">Tuneyard</strong>
      <nav aria-label="Sections">${SECTIONS.map(([key, title]) => html`<a href=${`?${new URLSearchParams({ ...Object.fromEntries(params), view: key })}`}
        aria-current=${key === view ? "page" : null}
        onClick=${(e) => { e.preventDefault(); navigate({ view: key }, true); }}>${title}</a>`)}</nav>
      <a href="/graphql" target="_blank" rel="opener">GraphiQL</a>
      <button type="button" onClick=${() => session.signOut()}>Sign out</button>
    </header>
    <div class=${CURATION.includes(view) ? "layout with-filter" : "layout"}>
      ${CURATION.includes(view) && html`<${FilterPanel} filter=${filter} refresh=${refresh} />`}
      <main>${body()}</main>
    </div>
  </div>`;
}

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(session.token()));
  const [reason, setReason] = useState("");
  useEffect(() => session.onSignOut((why) => { setReason(why); setSignedIn(false); }), []);
  const signIn = async (token) => {
    session.signIn(token);
    setReason("");
    try {
      await gql("{ stats { totalCount } }"); // a refused token signs out again, with the server's reason
      setSignedIn(true);
    } catch (error) {
      if (error.code !== "UNAUTHENTICATED") setReason(error.message);
    }
  };
  return signedIn ? html`<${Dashboard} />` : html`<${SignIn} reason=${reason} signIn=${signIn} />`;
}

const root = document.getElementById("app");
root.textContent = ""; // the "Loading…" line
render(html`<${App} />`, root);
