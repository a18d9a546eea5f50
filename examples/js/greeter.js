// `demo.js-greeter`: greets whom it is asked to, in JavaScript.
//
//     npm ci && zato build greeter.js && zato deploy greeter.wasm
//     zato channel create http --name js-greeter --path /demo/js-greeter --service demo.js-greeter
//     curl 'http://127.0.0.1:17010/demo/js-greeter' -d '{"name": "Ada"}'

import { Field, Service } from "zato-sdk";

export default class Greeter extends Service {
  static name = "demo.js-greeter";
  static description = "Greets whom it is asked to, with its `greeting` config key";
  static input = [new Field("name", "string", { required: false })];
  static output = [new Field("message", "string")];

  handle() {
    const who = this.request.input.name ?? this.request.query("name") ?? "world";
    const greeting = this.config.get("greeting", "Hello");
    this.log.info(`greeting ${who}`);
    this.response.payload = { message: `${greeting}, ${who}!`, channel: this.request.channel };
  }
}
