// The one script of the pages (served at /{tenant}/{workspace}/passkeys.js, allowed by the CSP of
// the pages that load it, and by nothing else): the passkey buttons. Without it (or without
// WebAuthn) the passkey forms stay hidden and the password form works as before.
"use strict";
(() => {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  const text = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const ids = (list) => (list || []).map((c) => ({ ...c, id: bytes(c.id) }));

  async function options(form, extra) {
    const body = new URLSearchParams({ interaction: form.elements.interaction.value, ...extra });
    const r = await fetch(form.dataset.options, { method: "POST", body, credentials: "same-origin" });
    const json = await r.json();
    if (!r.ok) throw new Error(json.error_description || "the passkey could not be used");
    return json;
  }

  function submit(form, state, cred) {
    const r = cred.response;
    const response = { clientDataJSON: text(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = text(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = text(r.authenticatorData);
      response.signature = text(r.signature);
      if (r.userHandle) response.userHandle = text(r.userHandle);
    }
    form.elements.state.value = state;
    form.elements.credential.value = JSON.stringify({ id: cred.id, rawId: text(cred.rawId), type: cred.type, response });
    form.submit();
  }

  function fail(form, e) {
    if (e && e.name === "AbortError") return;
    const p = form.querySelector(".passkey-error");
    if (p) p.textContent = (e && e.message) || String(e);
  }

  async function get(form, username, mediation, signal) {
    const o = await options(form, username ? { username } : {});
    const pk = { ...o.publicKey, challenge: bytes(o.publicKey.challenge), allowCredentials: ids(o.publicKey.allowCredentials) };
    const cred = await navigator.credentials.get({ publicKey: pk, mediation, signal });
    if (cred) submit(form, o.state, cred);
  }

  for (const form of document.querySelectorAll("form[data-passkey=sign-in]")) {
    form.hidden = false;
    let pending = null;
    // Conditional UI: the browser offers this site's passkeys in the username field's autofill
    // (not when the client already named the user: then the button asks for that user's passkeys).
    const named = document.getElementById("username");
    if (PublicKeyCredential.isConditionalMediationAvailable && !(named && named.value)) {
      PublicKeyCredential.isConditionalMediationAvailable().then((yes) => {
        if (!yes) return;
        pending = new AbortController();
        get(form, "", "conditional", pending.signal).catch(() => {});
      });
    }
    form.querySelector("button").addEventListener("click", () => {
      if (pending) pending.abort();
      pending = null;
      const name = document.getElementById("username");
      get(form, name ? name.value.trim() : "", undefined, undefined).catch((e) => fail(form, e));
    });
  }

  for (const form of document.querySelectorAll("form[data-passkey=register]")) {
    form.hidden = false;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      options(form, {})
        .then(async (o) => {
          const pk = o.publicKey;
          const publicKey = { ...pk, challenge: bytes(pk.challenge), user: { ...pk.user, id: bytes(pk.user.id) }, excludeCredentials: ids(pk.excludeCredentials) };
          submit(form, o.state, await navigator.credentials.create({ publicKey }));
        })
        .catch((e) => fail(form, e));
    });
  }
})();
