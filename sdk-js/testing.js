// Runs a service in-process under `node --test` (or any runner): no server, no ports.
//
//     import { test } from "node:test";
//     import assert from "node:assert/strict";
//     import { call } from "zato-sdk/testing";
//     import Greeter from "./greeter.js";
//
//     test("greets with its config", () => {
//       const result = call(Greeter, { name: "Ada" }, { config: { greeting: "Hi" } });
//       assert.equal(result.status, 200);
//       assert.deepEqual(result.json, { message: "Hi, Ada!" });
//     });
//
// The service's code runs as in the component, with fakes for what it reaches: its
// configuration, the answers of the services it invokes, the request's headers, query
// and path parameters, and who called. A JSON input is checked against the declared
// fields first, in the server's words. `result.invoked` and `result.logs` say what it
// called and logged.

import { BadRequest, InvokeError, Request, ServiceError, installHost, run } from "./index.js";

const STATUS = {
  "bad-request": 400,
  unauthorized: 401,
  forbidden: 403,
  "not-found": 404,
  conflict: 409,
  retry: 503,
  internal: 500,
};

const ARTICLES = {
  any: "any value",
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "a boolean",
  object: "an object",
  array: "an array",
};

function jsonType(value) {
  if (value === null) return "null";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  if (typeof value === "string") return "a string";
  if (Array.isArray(value)) return "an array";
  return "an object";
}

/** Why `value` does not match `fields`, in the server's words (host/src/sio.rs); null when it does. */
export function check(value, fields) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "request must be a JSON object";
  for (const field of fields) {
    const got = value[field.name];
    if (got === undefined || got === null) {
      if (field.required) return `missing required field \`${field.name}\``;
      continue;
    }
    const ok = {
      any: true,
      string: typeof got === "string",
      integer: typeof got === "number" && Number.isInteger(got),
      number: typeof got === "number",
      boolean: typeof got === "boolean",
      object: typeof got === "object" && !Array.isArray(got),
      array: Array.isArray(got),
    }[field.type];
    if (!ok) return `field \`${field.name}\` must be ${ARTICLES[field.type]}, got ${jsonType(got)}`;
  }
  return null;
}

function encode(payload) {
  if (payload === null || payload === undefined) return new Uint8Array();
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === "string") return new TextEncoder().encode(payload);
  return new TextEncoder().encode(JSON.stringify(payload));
}

class Result {
  constructor(status, headers, payload, error, logs, invoked) {
    Object.assign(this, { status, headers, payload, error, logs, invoked });
  }
  get text() {
    return new TextDecoder().decode(this.payload);
  }
  get json() {
    const text = this.text;
    return text.trim() === "" ? null : JSON.parse(text);
  }
}

/**
 * Calls `cls` once with `payload` (JSON-encoded unless a string or bytes). Options:
 * `channel` ("invoke"), `config`, `invoked` (a service's name -> its answer: a value sent
 * as JSON, an Error to throw, or a function of the payload returning one), `headers`,
 * `query`, `pathParams`, `method`, `path`, `caller`, `cid`.
 */
export function call(cls, payload = null, options = {}) {
  const {
    channel = "invoke",
    config = {},
    invoked = {},
    headers = {},
    query = {},
    pathParams = {},
    method = null,
    path = null,
    caller = null,
    cid = "test-cid",
  } = options;
  const logs = [];
  const calls = [];
  const lowered = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const fake = {
    cid: () => cid,
    method: () => method,
    path: () => path,
    header: (name) => lowered[name.toLowerCase()] ?? null,
    headers: () => Object.entries(lowered),
    query: (name) => query[name] ?? null,
    pathParam: (name) => pathParams[name] ?? null,
    caller: () => caller,
    log: (level, message) => logs.push([level, message]),
    config: (key) => config[key] ?? null,
    configAll: () => Object.entries(config),
    invoke(service, body) {
      const text = new TextDecoder().decode(body);
      let decoded = text;
      try {
        decoded = text.trim() === "" ? null : JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      calls.push([service, decoded]);
      if (!(service in invoked)) throw new InvokeError(service, "not-found", `service \`${service}\` is not deployed`);
      let answer = invoked[service];
      if (typeof answer === "function") answer = answer(decoded);
      if (answer instanceof Error) throw answer;
      return encode(answer);
    },
  };
  const failed = (kind, message) =>
    new Result(
      STATUS[kind] ?? 500,
      { "content-type": "application/json" },
      encode({ error: message }),
      [kind, message],
      logs,
      calls,
    );
  const previous = installHost(fake);
  try {
    const request = new Request(channel, encode(payload), "json");
    if (cls.input.length > 0) {
      let value;
      try {
        value = request.text.trim() === "" ? {} : request.json;
      } catch (e) {
        if (e instanceof BadRequest) return failed("bad-request", e.message);
        throw e;
      }
      const reason = check(value, cls.input);
      if (reason !== null) return failed("bad-request", reason);
    }
    try {
      const [status, answerHeaders, body] = run(cls, request);
      return new Result(status, Object.fromEntries(answerHeaders), body, null, logs, calls);
    } catch (e) {
      if (e instanceof ServiceError) return failed(e.kind, e.message);
      throw e;
    }
  } finally {
    installHost(previous);
  }
}
