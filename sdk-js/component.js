// The `zato:service/service` export of a JavaScript component. `zato build` makes the
// component of an entry module that imports the user's module and exports
// `service = exportService(module)`; this file is the only one that imports the WIT
// interfaces, so the SDK's other files also run under node.

import * as request from "zato:service/request@0.2.6";
import * as log from "zato:service/log@0.2.6";
import * as config from "zato:service/config@0.2.6";
import * as invoke from "zato:service/invoke@0.2.6";

import { InvokeError, Request, ServiceError, installHost, run, serviceOf } from "./index.js";

const none = (value) => (value === undefined ? null : value);

const witHost = {
  cid: () => request.cid(),
  method: () => none(request.method()),
  path: () => none(request.path()),
  header: (name) => none(request.header(name)),
  headers: () => request.headers(),
  query: (name) => none(request.query(name)),
  pathParam: (name) => none(request.pathParam(name)),
  caller: () => none(request.caller()),
  log: (level, message) => log.log(level, message),
  config: (key) => none(config.get(key)),
  configAll: () => config.getAll(),
  invoke(service, payload) {
    try {
      return invoke.invoke(service, payload, "json").payload;
    } catch (e) {
      const error = e && e.payload !== undefined ? e.payload : e;
      if (error && typeof error.tag === "string") throw new InvokeError(service, error.tag, error.val);
      throw e;
    }
  },
};

function fields(list) {
  return list.map((f) => ({ name: f.name, type: f.type, required: f.required }));
}

function failure(kind, message) {
  const error = new Error(message);
  error.payload = { tag: kind, val: message };
  return error;
}

export function exportService(module) {
  installHost(witHost);
  const cls = serviceOf(module);
  return {
    info() {
      return {
        name: cls.name,
        description: cls.description,
        input: fields(cls.input),
        output: fields(cls.output),
        slowThresholdMs: cls.slowThresholdMs,
      };
    },
    handle(incoming) {
      const req = new Request(incoming.channel, incoming.payload, incoming.dataFormat);
      let answer;
      try {
        answer = run(cls, req);
      } catch (e) {
        if (e instanceof ServiceError) throw failure(e.kind, e.message);
        log.log("error", e && e.stack ? String(e.stack) : String(e));
        throw failure("internal", `${e && e.name ? e.name : "Error"}: ${e && e.message ? e.message : e}`);
      }
      const [status, headers, payload] = answer;
      return { status, headers, payload };
    },
  };
}
