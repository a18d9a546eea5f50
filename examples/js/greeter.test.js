// demo.js-greeter's own tests: in-process under `node --test`, no server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { call } from "zato-sdk/testing";

import Greeter from "./greeter.js";

test("greets whom it is asked to, with its configured greeting", () => {
  const result = call(Greeter, { name: "Ada" }, { config: { greeting: "Hi" } });
  assert.equal(result.status, 200);
  assert.deepEqual(result.json, { message: "Hi, Ada!", channel: "invoke" });
  assert.deepEqual(result.logs, [["info", "greeting Ada"]]);
});

test("greets the world by default, and reads the query over HTTP", () => {
  assert.equal(call(Greeter).json.message, "Hello, world!");
  const result = call(Greeter, null, { channel: "http", query: { name: "Grace" } });
  assert.deepEqual(result.json, { message: "Hello, Grace!", channel: "http" });
});

test("a name that is not a string is refused, as the server would", () => {
  const result = call(Greeter, { name: 7 });
  assert.equal(result.status, 400);
  assert.deepEqual(result.error, ["bad-request", "field `name` must be a string, got an integer"]);
});
