// Imported by the wasm module (see `mod boundary` in src/lib.rs): the request's head crosses into
// wasm as one string and the response's head and body come back as one buffer, instead of a
// wasm-bindgen call (and a string copy) per header, per iterator step and per accessor.

/** `method \n url \n name \n value \n ...`: header values never contain a newline. `forEach`,
 * not `for...of`: workerd's iterator costs an API call and a `[name, value]` array per header
 * (about 8 µs of CPU per request here, `forEach` 4). */
export function requestHead(request) {
  let head = request.method + "\n" + request.url;
  request.headers.forEach((value, name) => {
    head += "\n" + name + "\n" + value;
  });
  return head;
}

/** Responses the engine marked reusable (`Response::reusable_until_ms` in the core): what the
 * entry (`entry.mjs`) needs to answer the same GET again, until `until` (ms, `Date.now()`). One
 * map for both modules, under a registered symbol (wasm-bindgen copies this file apart). */
const reusable = (globalThis[Symbol.for("edgeauth.reusable")] ??= new WeakMap());

/** `bytes` is the head, `name \n value \n ...` (its first `headLength` bytes), then the body: one
 * copy out of wasm memory, and the head read here (header values are bytes: each byte becomes
 * the character of that code, which the Headers class writes back as that byte), rather than
 * decoded by a TextDecoder call. The headers go to the Response as a plain object (one
 * conversion inside the constructor, no Headers object and no `append` call per header), unless
 * a name repeats (several Set-Cookie): then they are appended, so each stays separate.
 * `reusableUntil` is 0, or when the engine says this answer may be reused until. */
export function newResponse(status, bytes, headLength, reusableUntil) {
  let headers;
  if (headLength > 0) {
    let head = "";
    for (let at = 0; at < headLength; at += 4096) {
      head += String.fromCharCode.apply(null, bytes.subarray(at, Math.min(at + 4096, headLength)));
    }
    const parts = head.split("\n");
    headers = Object.create(null);
    for (let i = 0; i + 1 < parts.length; i += 2) {
      if (headers[parts[i]] !== undefined) {
        headers = new Headers();
        for (let j = 0; j + 1 < parts.length; j += 2) headers.append(parts[j], parts[j + 1]);
        break;
      }
      headers[parts[i]] = parts[i + 1];
    }
  }
  const body = bytes.length > headLength ? bytes.subarray(headLength) : null;
  const init = { status, headers };
  const response = new Response(body, init);
  // The body (in a copy out of wasm memory) and the init are not consumed by the Response: the
  // entry builds the same answer again from them.
  if (reusableUntil > 0) reusable.set(response, { body, init, until: reusableUntil });
  return response;
}

/** A Promise and its resolve function, for an answer the engine is still waiting on (see
 * src/executor.rs). */
export function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return [promise, resolve];
}

/** The wasm function awaits report to (src/executor.rs: `settled`): `settler(id, ok, value)`. */
let settler = null;
export function setSettler(f) {
  settler = f;
}

/** Reports `promise`'s outcome to the settler, under the await's number `id`. */
export function settle(promise, id) {
  promise.then((v) => settler(id, true, v), (e) => settler(id, false, e));
}

// D1 through the Sessions API, so that reads may go to a read replica near this isolate.
// `newestBookmark` is the newest D1 bookmark this isolate has seen (bookmarks sort
// lexicographically, oldest first). A replica read starts its session there, so a replica never
// shows this isolate the database older than it has already seen it: a write made through this
// isolate (a revocation, a grant) is visible to every later read it makes. How stale a replica may
// be for writes made elsewhere is bounded by the engine (crates/core/src/store/replica.rs).
let newestBookmark = null;
function remember(session) {
  const b = session.getBookmark();
  if (b && (newestBookmark === null || b > newestBookmark)) newestBookmark = b;
}

/** One D1 statement on the primary; its rows come back as one JSON string (an array of row
 * objects) rather than as objects wasm would walk a property at a time. */
export async function d1Query(db, sql, params) {
  const session = db.withSession("first-primary");
  const { results } = await session.prepare(sql).bind(...params).all();
  remember(session);
  return JSON.stringify(results ?? []);
}

/** `statements` (`[[sql, params], ...]`) as one batch of `session`, one implicit transaction; the
 * rows of each statement come back as one JSON string (an array of arrays of row objects). */
async function batchIn(session, statements) {
  const results = await session.batch(statements.map(([sql, params]) => session.prepare(sql).bind(...params)));
  remember(session);
  return JSON.stringify(results.map((r) => r.results ?? []));
}

/** A D1 batch on the primary. */
export function d1Batch(db, statements) {
  return batchIn(db.withSession("first-primary"), statements);
}

/** Read-only statements in one round trip that a read replica may answer: the session starts at
 * this isolate's newest bookmark, or anywhere (`first-unconstrained`) before it has one. */
export function d1ReadReplica(db, statements) {
  return batchIn(db.withSession(newestBookmark ?? "first-unconstrained"), statements);
}

/** One outbound GET under the engine's limits (see `FetchLimits` in the core): no redirect is
 * followed (`redirect: "manual"` hands a 3xx back as it is), one deadline covers the whole
 * exchange, and the body is read a chunk at a time and abandoned once it passes `maxBytes`
 * (a `Content-Length` is not trusted). Resolves to `[status, Uint8Array]`. */
// `headers` is a JSON object the engine built (`accept` always among them); `body` a Uint8Array or
// undefined. No redirect is followed: a 3xx comes back as its status.
export async function guardedFetch(method, url, headersJson, requestBody, timeoutMs, maxBytes) {
  const signal = AbortSignal.timeout(timeoutMs);
  const resp = await fetch(url, { method, redirect: "manual", signal, headers: JSON.parse(headersJson), body: requestBody });
  const chunks = [];
  let size = 0;
  if (resp.body) {
    const reader = resp.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new Error(`the body is larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { body.set(c, at); at += c.byteLength; }
  return [resp.status, body];
}
