"""`demo.py-greeter`: greets whom it is asked to, in Python.

    zato build greeter.py && zato deploy greeter.wasm
    zato channel create http --name py-greeter --path /demo/py-greeter --service demo.py-greeter
    curl 'http://127.0.0.1:17010/demo/py-greeter' -d '{"name": "Ada"}'
"""

from zato_sdk import Field, Service


class Greeter(Service):
    name = "demo.py-greeter"
    description = "Greets whom it is asked to, with its `greeting` config key"
    input = [Field("name", str, required=False)]
    output = [Field("message", str)]

    def handle(self):
        who = self.request.input.get("name") or self.request.query("name") or "world"
        greeting = self.config.get("greeting", "Hello")
        self.log.info(f"greeting {who}")
        self.response.payload = {"message": f"{greeting}, {who}!", "channel": self.request.channel}
