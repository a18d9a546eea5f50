"""demo.py-greeter's own tests: in-process under pytest, no server (zato_sdk.testing)."""

from zato_sdk.testing import call

from greeter import Greeter


def test_greets_whom_it_is_asked_to_with_its_configured_greeting():
    result = call(Greeter, {"name": "Ada"}, config={"greeting": "Hi"})
    assert result.status == 200
    assert result.json == {"message": "Hi, Ada!", "channel": "invoke"}
    assert result.logs == [("info", "greeting Ada")]


def test_greets_the_world_by_default_and_reads_the_query_over_http():
    assert call(Greeter).json["message"] == "Hello, world!"
    result = call(Greeter, channel="http", query={"name": "Grace"})
    assert result.json == {"message": "Hello, Grace!", "channel": "http"}


def test_a_name_that_is_not_a_string_is_refused_as_the_server_would():
    result = call(Greeter, {"name": 7})
    assert result.status == 400
    assert result.error == ("bad-request", "field `name` must be a string, got an integer")
