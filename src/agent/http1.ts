/**
 * The HTTP/1.1 the agent speaks, parsed strictly: a request head (RFC 9112) with origin-form
 * targets, token header names, no folded lines and no bare LF, a body framed either by one
 * `Content-Length` or by `Transfer-Encoding: chunked` (never both: a request read two ways is a
 * smuggled one), and an answer's head. The agent's clients are Amber's own (`fetch`, the upload
 * in src/migrate/upload.ts) and tools such as curl; anything else is refused with 400.
 *
 * @module
 */

/** A request refused before the agent's handler sees it, with the status to answer. */
export class HttpError extends Error {
  /** The HTTP status of the answer. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** A request's head, and how its body is framed. */
export interface Head {
  method: string;
  /** The request target, origin-form (`/path?query`). */
  target: string;
  headers: Headers;
  /** The body's length in bytes, or `"chunked"`. */
  length: number | "chunked";
  /** Whether the connection may carry another request after this one's answer. */
  keepAlive: boolean;
  /** The client waits for `100 Continue` before it sends the body. */
  expectContinue: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\/[\x21-\x7e]*) HTTP\/1\.([01])$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEADERS = 100;

/** Bytes as Latin-1 text: one character per byte, as HTTP heads are read. */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

function commaList(headers: Headers, name: string): string[] {
  return (headers.get(name) ?? "").split(",").map((s) => s.trim().toLowerCase()).filter((s) =>
    s !== ""
  );
}

/** Parses a request head: the bytes up to, not including, its blank line. */
export function parseHead(bytes: Uint8Array): Head {
  const lines = latin1(bytes).split("\r\n");
  if (lines.some((line) => line.includes("\n") || line.includes("\r"))) {
    throw new HttpError(400, "Expected CRLF line ends in the request head");
  }
  const request = REQUEST_LINE.exec(lines[0]);
  if (!request || request[2].startsWith("//")) {
    throw new HttpError(400, `Expected a request line such as 'GET /v1/health HTTP/1.1'`);
  }
  if (lines.length - 1 > MAX_HEADERS) {
    throw new HttpError(431, `Expected at most ${MAX_HEADERS} header fields`);
  }
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (colon < 1 || !TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      throw new HttpError(400, "Expected header fields as 'Name: value' (no folded lines)");
    }
    headers.append(name, value);
  }
  const http10 = request[3] === "0";
  if (!http10 && !headers.has("host")) throw new HttpError(400, "Expected a Host header");
  const connection = commaList(headers, "connection");
  const keepAlive = http10 ? connection.includes("keep-alive") : !connection.includes("close");
  const expect = commaList(headers, "expect");
  if (expect.some((e) => e !== "100-continue")) {
    throw new HttpError(417, "Expected no expectation other than '100-continue'");
  }
  return {
    method: request[1],
    target: request[2],
    headers,
    length: framing(headers, http10),
    keepAlive,
    expectContinue: expect.length > 0 && !http10,
  };
}

function framing(headers: Headers, http10: boolean): number | "chunked" {
  const coding = headers.get("transfer-encoding");
  const lengths = commaList(headers, "content-length");
  if (coding !== null) {
    if (http10 || lengths.length > 0) {
      throw new HttpError(400, "Expected either Content-Length or Transfer-Encoding, not both");
    }
    if (coding.trim().toLowerCase() !== "chunked") {
      throw new HttpError(501, `Unsupported transfer coding '${coding}': expected 'chunked'`);
    }
    return "chunked";
  }
  if (lengths.length === 0) return 0;
  const length = Number(lengths[0]);
  if (
    !/^\d{1,15}$/.test(lengths[0]) || lengths.some((l) => l !== lengths[0]) ||
    !Number.isSafeInteger(length)
  ) {
    throw new HttpError(400, `Invalid Content-Length '${headers.get("content-length")}'`);
  }
  return length;
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  417: "Expectation Failed",
  422: "Unprocessable Content",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/** The head of an answer of `length` bytes; `close` ends the connection after it. */
export function answerHead(
  status: number,
  headers: Headers,
  length: number,
  close: boolean,
): Uint8Array {
  const lines = [`HTTP/1.1 ${status} ${REASONS[status] ?? ""}`.trimEnd()];
  for (const [name, value] of headers) {
    if (!["connection", "content-length", "transfer-encoding", "keep-alive"].includes(name)) {
      lines.push(`${name}: ${value}`);
    }
  }
  lines.push(`content-length: ${length}`);
  if (close) lines.push("connection: close");
  return new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
}

/** A whole answer carrying `{"error": message}`, as the agent's handler writes its errors. */
export function errorAnswer(status: number, message: string): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify({ error: message }));
  const head = answerHead(
    status,
    new Headers({ "content-type": "application/json" }),
    body.length,
    true,
  );
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
