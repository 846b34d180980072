// The sign-in screen: the token is asked for once and kept in this tab's session storage.
import { html } from "htm/preact";
import { useState } from "preact/hooks";

export function SignIn({ reason, signIn }) {
  const [token, setToken] = useState("");
  return html`<main class="signin">
    <form class="card" aria-label="Sign in" onSubmit=${(e) => { e.preventDefault(); if (token.trim()) signIn(token); }}>
      <h1>Tuneyard</h1>
      <p>Paste an API token. <code>tuneyard serve</code> prints the admin token on its first start;${" "}
        <code>tuneyard token create --role CURATOR --name you</code> makes another.</p>
      ${reason && html`<p class="error" role="alert">Signed out: ${reason}</p>`}
      <label>API token <input type="password" autocomplete="off" value=${token} autofocus
        onInput=${(e) => setToken(e.target.value)} /></label>
      <button type="submit" class="primary">Sign in</button>
      <p class="muted">The token stays in this browser tab only (session storage) until you sign out.</p>
    </form>
  </main>`;
}
