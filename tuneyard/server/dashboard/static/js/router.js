// The URL is the state that can be shared: the section shown and the filter. Changes replace the URL in place
// (the filter) or push a history entry (the section), and every listener re-renders.
import { useEffect, useState } from "preact/hooks";

export const SECTIONS = [
  ["filter", "Filter & preview"],
  ["tagging", "Tagging"],
  ["datasets", "Datasets"],
  ["finetune", "Fine-tuning"],
  ["jobs", "Jobs & models"],
];

const listeners = new Set();

function notify() {
  listeners.forEach((listener) => listener(location.search));
}

/** The current query parameters; re-renders the caller whenever they change. */
export function useParams() {
  const [, setSearch] = useState(location.search);
  useEffect(() => {
    listeners.add(setSearch);
    window.addEventListener("popstate", notify);
    return () => {
      listeners.delete(setSearch);
      window.removeEventListener("popstate", notify);
    };
  }, []);
  return new URLSearchParams(location.search);
}

/** Set (or, with "" / null, drop) some parameters; `push` makes a new history entry. */
export function navigate(changes, push = false) {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  const search = params.toString();
  const url = location.pathname + (search ? `?${search}` : "");
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  notify();
}

export function currentSection(params) {
  const view = params.get("view");
  return SECTIONS.some(([key]) => key === view) ? view : "filter";
}
