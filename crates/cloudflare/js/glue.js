// Imported by the wasm module (see `mod boundary` in src/lib.rs): the request's head crosses into
// wasm as one string and the response's head comes back as one, instead of a wasm-bindgen call
// (and a string copy) per header, per iterator step and per accessor.

/** `method \n url \n name \n value \n ...`: header values never contain a newline. */
export function requestHead(request) {
  let head = request.method + "\n" + request.url;
  for (const [name, value] of request.headers) head += "\n" + name + "\n" + value;
  return head;
}

/** `head` is `name \n value \n ...` (appended, so several Set-Cookie stay separate). */
export function newResponse(status, head, body) {
  const headers = new Headers();
  if (head) {
    const parts = head.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  }
  return new Response(body.length ? body : null, { status, headers });
}

/** One D1 statement; its rows come back as one JSON string (an array of row objects) rather than
 * as objects wasm would walk a property at a time. */
export async function d1Query(db, sql, params) {
  const { results } = await db.prepare(sql).bind(...params).all();
  return JSON.stringify(results ?? []);
}

/** A D1 batch, one implicit transaction: `statements` is `[[sql, params], ...]`; the rows of each
 * statement come back as one JSON string (an array of arrays of row objects). */
export async function d1Batch(db, statements) {
  const results = await db.batch(statements.map(([sql, params]) => db.prepare(sql).bind(...params)));
  return JSON.stringify(results.map((r) => r.results ?? []));
}
