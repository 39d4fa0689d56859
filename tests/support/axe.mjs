// Accessibility checks for the browser tests: axe-core (the npm package) run on the page a test
// is looking at, failing on serious and critical violations, with a screenshot of each page kept
// under tests/.artifacts/a11y/ (git-ignored).
//
// JavaScript off: axe cannot run in a page whose context has JavaScript disabled (Chromium
// closes the page when axe's promise-based run is evaluated there). So the check takes the DOM
// that the no-JavaScript browser rendered (`page.content()` works without page scripts), drops its
// <script> elements (they never ran) and turns its <noscript> into plain elements (they were
// shown), and runs axe on that markup in a scratch page with JavaScript on. What is checked is
// what the no-JS user got: the passkey forms still `hidden`, no script's changes.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), "..", ".artifacts", "a11y");
/** The impacts that fail a test. */
const FAILING = new Set(["serious", "critical"]);

/** axe's violations on `page` (already loaded), as { id, impact, help, targets }. */
async function run(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
}

/** The markup the no-JS browser rendered, as it would be without any script. */
function withoutScripts(html) {
  return html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, "").replace(/<(\/?)noscript\b/gi, "<$1div data-noscript");
}

/**
 * Checks the page `page` shows: returns the failing violations (and keeps every violation in
 * `all`), after saving a screenshot named `name`. `scratch`: a page in a JavaScript-enabled
 * context, used when `page`'s context has JavaScript off (`jsEnabled: false`).
 */
export async function checkPage(page, name, { jsEnabled, scratch, all = [] }) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  let violations;
  if (jsEnabled) {
    violations = await run(page);
  } else {
    // The no-JS DOM, as it was rendered; served from a blank page, so nothing loads or runs.
    await scratch.setContent(withoutScripts(await page.content()), { waitUntil: "load" });
    violations = await run(scratch);
  }
  for (const v of violations) all.push({ page: name, ...v });
  return violations.filter((v) => FAILING.has(v.impact));
}

/** One line per violation: where, which rule, how bad, which elements. */
export const describe = (vs) => vs.map((v) => `${v.page ?? ""} ${v.id} (${v.impact}): ${v.help} — ${v.targets.join(", ")}`).join("\n");
