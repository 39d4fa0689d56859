// The browser tests' client application: a loopback page at `/cb` that records each redirect's
// query (the code, state, iss) in `received` and shows "signed in".
import { createServer } from "node:http";

/** Starts it; returns { base, received, close }. */
export async function startRelyingParty() {
  const received = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname === "/favicon.ico") return res.writeHead(404).end();
    received.push(Object.fromEntries(url.searchParams));
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>RP</title><p>signed in</p>");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { base: `http://127.0.0.1:${server.address().port}`, received, close: () => server.close() };
}
