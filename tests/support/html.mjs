// Reading our pages in the scenario tests: attributes unescaped, a form by its id (its action,
// method and hidden fields), and posting it back with the agent that holds its cookies.
import assert from "node:assert/strict";

export const unescape = (s) => s?.replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
export const attr = (tag, name) => unescape(tag.match(new RegExp(`\\b${name}="([^"]*)"`))?.[1]);

/** The form with that id: its action, method, hidden fields and HTML; null when the page has none. */
export function formIn(html, id) {
  const m = html.match(new RegExp(`<form\\b[^>]*\\bid="${id}"[^>]*>[\\s\\S]*?</form>`));
  if (!m) return null;
  const fields = {};
  for (const [input] of m[0].matchAll(/<input\b[^>]*>/g)) {
    if (attr(input, "type") === "hidden" && attr(input, "name")) fields[attr(input, "name")] = attr(input, "value") ?? "";
  }
  const tag = m[0].match(/<form\b[^>]*>/)[0];
  return { action: attr(tag, "action"), method: attr(tag, "method"), fields, html: m[0] };
}

/** The form with that id in a response, which must be a POST form carrying the sealed interaction. */
export function mustForm(r, id) {
  const f = formIn(r.text_, id);
  assert.ok(f, `no form#${id} in the page (${r.status}):\n${r.text_.slice(0, 3000)}`);
  assert.equal(f.method?.toLowerCase(), "post", id);
  assert.ok(f.fields.interaction, `form#${id} has a hidden interaction`);
  return f;
}

/** Posts a form back, its hidden fields with `extra`. */
export const post = (agent, f, extra = {}) => agent.request(f.action, { method: "POST", form: { ...f.fields, ...extra } });
