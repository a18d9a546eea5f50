// zato services in JavaScript.
//
//     import { Service, Field } from "zato-sdk";
//
//     export default class Greeter extends Service {
//       static name = "acme.greeter";
//       static description = "Greets whom it is asked to";
//       static input = [new Field("name", "string", { required: false })];
//
//       handle() {
//         const who = this.request.input.name ?? "world";
//         this.log.info(`greeting ${who}`);
//         this.response.payload = { message: `Hello, ${who}!` };
//       }
//     }
//
// or a function of the request that returns the response's payload:
//
//     export default service("acme.hello", (request) => ({ message: "Hello!" }));
//
// `zato build greeter.js` makes the module a component (componentize-js, with the
// `zato:service` WIT); its default export is the service. `zato-sdk/testing` runs it
// under `node --test`, with fakes for what it reaches. Inside `handle`: `this.request`
// (`payload` bytes, `text`, `json`, `input`, `channel`, `cid`, `method`, `path`,
// `header(name)`, `query(name)`, `pathParam(name)`, `caller`), `this.response`
// (`payload`: an object is sent as JSON, a string as UTF-8, a Uint8Array as it is;
// `status`; `headers`), `this.log`, `this.config`, `this.invoke(name, payload)`.
// Throwing `BadRequest`, `Unauthorized`, `Forbidden`, `NotFound`, `Conflict` or
// `Retry` answers 400, 401, 403, 404, 409 or 503; anything else 500.

const TYPES = ["any", "string", "integer", "number", "boolean", "object", "array"];

/** One field of a JSON input or output, checked by the server before the service runs. */
export class Field {
  constructor(name, type = "any", { required = true } = {}) {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`a field's name must be a non-empty string, not ${JSON.stringify(name)}`);
    }
    if (!TYPES.includes(type)) {
      throw new TypeError(`field \`${name}\`: type ${JSON.stringify(type)} is not one of ${TYPES.join(", ")}`);
    }
    this.name = name;
    this.type = type;
    this.required = required;
  }
}

/** An error the caller is told about: its kind (and so its status) and message. */
export class ServiceError extends Error {
  static kind = "internal";
  get kind() {
    return this.constructor.kind;
  }
}
export class BadRequest extends ServiceError {
  static kind = "bad-request";
}
export class Unauthorized extends ServiceError {
  static kind = "unauthorized";
}
export class Forbidden extends ServiceError {
  static kind = "forbidden";
}
export class NotFound extends ServiceError {
  static kind = "not-found";
}
export class Conflict extends ServiceError {
  static kind = "conflict";
}
export class Retry extends ServiceError {
  static kind = "retry";
}

/** An invoked service failed. */
export class InvokeError extends Error {
  constructor(service, kind, message) {
    super(`${service}: ${kind}: ${message}`);
    this.service = service;
    this.kind = kind;
    this.detail = message;
  }
}

// What a service reaches: the component's imports (component.js) or the test
// harness's fakes (testing.js).
let host = null;
export function installHost(next) {
  const previous = host;
  host = next;
  return previous;
}
function current() {
  if (host === null) throw new Error("no zato host: run the service in a component or through zato-sdk/testing");
  return host;
}

const UNSET = Symbol("unset");

export class Request {
  constructor(channel, payload, dataFormat) {
    this.channel = channel;
    this.payload = payload instanceof Uint8Array ? payload : new Uint8Array(payload ?? []);
    this.dataFormat = dataFormat;
    this._json = UNSET;
  }
  get text() {
    return new TextDecoder().decode(this.payload);
  }
  /** The payload decoded as JSON (null when empty); BadRequest when it is not JSON. */
  get json() {
    if (this._json === UNSET) {
      const text = this.text;
      if (text.trim() === "") {
        this._json = null;
      } else {
        try {
          this._json = JSON.parse(text);
        } catch (e) {
          throw new BadRequest(`request is not valid JSON: ${e.message}`);
        }
      }
    }
    return this._json;
  }
  /** The JSON object of the request ({} when the payload is empty). */
  get input() {
    const value = this.json;
    if (value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) throw new BadRequest("request must be a JSON object");
    return value;
  }
  get cid() {
    return current().cid();
  }
  get method() {
    return current().method();
  }
  get path() {
    return current().path();
  }
  header(name) {
    return current().header(name);
  }
  headers() {
    return current().headers();
  }
  query(name) {
    return current().query(name);
  }
  pathParam(name) {
    return current().pathParam(name);
  }
  /** Who a channel's security definition admitted ({definition, kind, principal}), or null. */
  get caller() {
    return current().caller();
  }
}

export class Response {
  constructor() {
    this.status = 200;
    this.headers = {};
    this.payload = null;
  }
  /** [status, [[name, value]...], bytes] */
  encoded() {
    const headers = { ...this.headers };
    let body;
    if (this.payload === null || this.payload === undefined) {
      body = new Uint8Array();
    } else if (this.payload instanceof Uint8Array) {
      body = this.payload;
    } else if (typeof this.payload === "string") {
      body = new TextEncoder().encode(this.payload);
    } else {
      body = new TextEncoder().encode(JSON.stringify(this.payload));
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
        headers["content-type"] = "application/json";
      }
    }
    return [this.status, Object.entries(headers), body];
  }
}

const log = {
  trace: (message) => current().log("trace", String(message)),
  debug: (message) => current().log("debug", String(message)),
  info: (message) => current().log("info", String(message)),
  warn: (message) => current().log("warn", String(message)),
  error: (message) => current().log("error", String(message)),
};

const config = {
  /** The value of `key`, or `fallback` (undefined) when it is not set. */
  get(key, fallback = undefined) {
    const value = current().config(key);
    return value === null || value === undefined ? fallback : value;
  },
  has(key) {
    const value = current().config(key);
    return value !== null && value !== undefined;
  },
  entries() {
    return current().configAll();
  },
};

function encode(payload) {
  if (payload === null || payload === undefined) return new Uint8Array();
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === "string") return new TextEncoder().encode(payload);
  return new TextEncoder().encode(JSON.stringify(payload));
}

/** Subclass it with a static `name` and a `handle()`; see the top of this file. */
export class Service {
  static description = "";
  static input = [];
  static output = [];
  static slowThresholdMs = 0;

  constructor(request) {
    this.request = request;
    this.response = new Response();
    this.log = log;
    this.config = config;
  }

  handle() {
    throw new Error(`${this.constructor.name}.handle is not written`);
  }

  /** Calls `service` with `payload` (JSON-encoded unless a string or bytes); its answer
   * decoded as JSON (null when empty), or InvokeError. */
  invoke(service, payload = null) {
    const answer = current().invoke(service, encode(payload));
    const text = new TextDecoder().decode(answer);
    if (text.trim() === "") return null;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
}

/** A service made of a function of the request returning the response's payload. */
export function service(name, fn, { description = "", input = [], output = [], slowThresholdMs = 0 } = {}) {
  return class extends Service {
    static name = name;
    static description = description;
    static input = input;
    static output = output;
    static slowThresholdMs = slowThresholdMs;
    handle() {
      this.response.payload = fn(this.request);
    }
  };
}

/** The service class a module exports: its default export. */
export function serviceOf(module) {
  const cls = module.default;
  if (typeof cls !== "function" || !(cls.prototype instanceof Service)) {
    throw new Error("a zato service module's default export must be a Service class (or service(...))");
  }
  if (typeof cls.name !== "string" || !Object.prototype.hasOwnProperty.call(cls, "name") || cls.name === "") {
    throw new Error("the service class needs a `static name`");
  }
  for (const field of [...cls.input, ...cls.output]) {
    if (!(field instanceof Field)) throw new TypeError(`${cls.name}: ${JSON.stringify(field)} is not a Field`);
  }
  return cls;
}

/** One call of `cls`: [status, headers, bytes], or the ServiceError it threw. A call
 * is synchronous, as the component's `handle` export is. */
export function run(cls, request) {
  const instance = new cls(request);
  const outcome = instance.handle();
  if (outcome && typeof outcome.then === "function") {
    throw new Error(`${cls.name}: handle() must not be async (a component's call is synchronous)`);
  }
  return instance.response.encoded();
}
