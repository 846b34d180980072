// The dashboard's one way to the server: GraphQL over HTTP POST and over WebSocket (graphql-transport-ws),
// always with the session's token. A refused token signs the user out, with the server's reason.
import { createClient } from "graphql-ws";

const KEY = "tuneyard.token"; // GraphiQL (/graphql) reads the same key to reuse the token
let signedOut = () => {};
let socket = null;

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code || "ERROR";
  }
}

export const session = {
  token: () => sessionStorage.getItem(KEY),
  signIn(token) {
    sessionStorage.setItem(KEY, token.trim());
  },
  signOut(reason = "") {
    sessionStorage.removeItem(KEY);
    closeSocket();
    signedOut(reason);
  },
  onSignOut(handler) {
    signedOut = handler;
  },
};

function refused(message) {
  session.signOut(message);
  return new ApiError(message, "UNAUTHENTICATED");
}

export async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${session.token()}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({}));
  const first = body.errors && body.errors[0];
  const code = first && first.extensions && first.extensions.code;
  if (response.status === 401 || code === "UNAUTHENTICATED") throw refused(first ? first.message : "signed out");
  if (first) throw new ApiError(first.message, code);
  if (!response.ok) throw new ApiError(`the server answered HTTP ${response.status}`);
  return body.data;
}

function client() {
  if (!socket) {
    socket = createClient({
      url: location.origin.replace(/^http/, "ws") + "/graphql",
      connectionParams: () => ({ Authorization: `Bearer ${session.token()}` }),
      retryAttempts: 5,
      on: {
        closed: (event) => {
          // The server closes with 4403 when connection_init carries no valid token.
          if (event && event.code === 4403) session.signOut(`the live connection refused the token (${event.reason || "Forbidden"})`);
        },
      },
    });
  }
  return socket;
}

export function closeSocket() {
  if (socket) socket.dispose();
  socket = null;
}

/** Subscribe; `next` gets each result's data. Returns the function that stops it. */
export function subscribe(query, variables, { next, error = () => {}, complete = () => {} }) {
  return client().subscribe(
    { query, variables },
    {
      next: (result) => (result.errors ? error(new ApiError(result.errors[0].message)) : next(result.data)),
      error: (cause) => error(cause instanceof Error ? cause : new ApiError((cause && cause.reason) || "the live connection failed")),
      complete,
    },
  );
}

/** Fetch a file with the token and hand it to the browser as a download. */
export async function download(url, filename) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${session.token()}` } });
  if (response.status === 401) throw refused("the server refused the token");
  if (!response.ok) throw new ApiError(`the download failed: HTTP ${response.status}`);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
