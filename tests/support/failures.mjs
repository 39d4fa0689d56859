// Each adapter writes one JSON line per failed request (`{..., "event":"request_failed", ...}`: request
// id, tenant, workspace, endpoint, status, kind, description, and the cause of a failure of ours).
// The harnesses collect them instead of printing them: a test can read `server.failures`, and a
// 5xx among them fails the test file at stop(), as any other complaint of the server does.

/** The parsed line when `line` is a failed-request log line, else null. */
export function failureLine(line) {
  if (!line.startsWith("{") || !line.includes('"event":"request_failed"')) return null;
  try {
    const f = JSON.parse(line);
    return f.event === "request_failed" ? f : null;
  } catch {
    return null;
  }
}

/** Routes a log line: collected (and a complaint when it is a 5xx), or left to the caller (false). */
export function collectFailure(line, failures, complaints) {
  const f = failureLine(line);
  if (!f) return false;
  failures.push(f);
  if (f.status >= 500) complaints.push(line);
  return true;
}
